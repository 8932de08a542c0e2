// Preloaded into the programs the GPU checks start: on SIGSEGV/SIGABRT/SIGBUS
// prints the native backtrace to stderr before dying, so a crash on the
// GPU machine (no debugger there) says where it happened.

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_crash(int sig) {
  static const char head[] = "crash_backtrace: fatal signal, backtrace:\n";
  void* frames[64];
  const int n = backtrace(frames, 64);
  (void)!write(2, head, sizeof(head) - 1);
  backtrace_symbols_fd(frames, n, 2);
  signal(sig, SIG_DFL);
  raise(sig);
}

__attribute__((constructor)) static void install(void) {
  signal(SIGSEGV, on_crash);
  signal(SIGBUS, on_crash);
  signal(SIGABRT, on_crash);
}
