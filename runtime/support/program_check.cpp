#include "program_check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>
#include <executorch/runtime/kernel/operator_registry.h>

#include "../../backend/backend_id.h"
#include "../../backend/blob/delegate_blob.h"
#include "../../backend/common/error_report.h"
#include "../../backend/common/printable_text.h"
#include "runtime_reporting.h"

namespace executorch_tensorrt {
namespace {

// The schema's file_identifier (executorch/schema/program.fbs) of the
// ExecuTorch these loaders are built against.
constexpr char kProgramIdentifier[4] = {'E', 'T', '1', '2'};
// The extended header ExecuTorch's serializer puts at byte 8
// (exir/_serialize/_program.py, _ExtendedHeader): magic, its length, the
// flatbuffer size, the segment base offset, then (when the length says so)
// the size of the segment data.
constexpr size_t kExtendedHeaderAt = 8;
constexpr char kExtendedHeaderMagic[4] = {'e', 'h', '0', '0'};
constexpr uint32_t kExtendedHeaderMinLength = 24;
constexpr uint32_t kExtendedHeaderLengthWithDataSize = 32;
// program.fbs: union KernelTypes, member Tensor; enum DataLocation.
constexpr uint8_t kValueTypeNull = 1, kValueTypeTensor = 5, kValueTypeIntList = 7, kValueTypeTensorList = 10,
                  kValueTypeOptionalTensorList = 11;
// program.fbs: union InstructionArguments.
constexpr uint8_t kKernelCall = 1, kDelegateCall = 2, kMoveCall = 3, kJumpFalseCall = 4, kFreeCall = 5;
constexpr uint8_t kDataLocationInline = 0, kDataLocationSegment = 1;
// x86-64 and AArch64 user space spans 2^47 bytes: no host allocates more
// planned memory than that, so a larger plan is damage, not a big model.
constexpr uint64_t kMaxPlannedBytes = uint64_t{1} << 47;

// Field numbers of the program.fbs tables read here (declaration order).
namespace field {
enum Program { kExecutionPlan = 1, kBackendDelegateData = 3, kSegments = 4, kConstantSegment = 5,
               kMutableDataSegments = 6, kNamedData = 7 };
enum ExecutionPlan { kName = 0, kValues = 2, kInputs = 3, kOutputs = 4, kChains = 5, kOperators = 6, kDelegates = 7,
                     kNonConstBufferSizes = 8, kNonConstBufferDevice = 9 };
enum Chain { kChainInputs = 0, kChainOutputs = 1, kInstructions = 2 };
enum Instruction { kInstructionType = 0, kInstructionArgs = 1 };
// KernelCall (op_index, args), DelegateCall (delegate_index, args), MoveCall
// (move_from, move_to), JumpFalseCall (cond_value_index,
// destination_instruction), FreeCall (value_index): two fields each at most.
enum CallFields { kFirst = 0, kSecond = 1 };
enum CompileSpec { kKey = 0, kValue = 1 };
enum ListItems { kItems = 0 };
enum BufferDevice { kBufferIndex = 0, kDeviceType = 1 };
enum Operator { kOperatorName = 0, kOverload = 1 };
enum BackendDelegate { kId = 0, kProcessed = 1, kCompileSpecs = 2 };
enum DataReference { kLocation = 0, kIndex = 1 };
enum DataSegment { kOffset = 0, kSize = 1 };
enum SubsegmentOffsets { kSegmentIndex = 0, kOffsets = 1 };
enum NamedData { kNamedSegmentIndex = 1 };
enum InlineData { kData = 0 };
enum EValue { kValType = 0, kVal = 1 };
enum Tensor { kScalarType = 0, kSizes = 2, kDataBufferIndex = 5, kAllocationInfo = 6, kExtraTensorInfo = 9 };
enum Allocation { kMemoryId = 0, kOffsetLow = 1, kOffsetHigh = 2 };
} // namespace field

Error refuse(const char* format, const std::string& a = "", const std::string& b = "") {
  return report_error(Error::InvalidProgram, format, a.c_str(), b.c_str());
}

bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

// A bounds-checked flatbuffer reader: every position it hands out has been
// checked against the buffer, so a corrupt offset becomes a refusal.
class FlatReader {
 public:
  FlatReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool fits(uint64_t at, uint64_t length) const {
    return at <= size_ && length <= size_ - at;
  }

  template <typename T>
  std::optional<T> scalar(uint64_t at) const {
    if (!fits(at, sizeof(T))) {
      return std::nullopt;
    }
    T value;
    std::memcpy(&value, data_ + at, sizeof(T));
    return value;
  }

  // The position a uoffset at `at` points to.
  std::optional<uint64_t> follow(uint64_t at) const {
    const auto offset = scalar<uint32_t>(at);
    uint64_t target = 0;
    if (!offset || *offset == 0 || add_overflows(at, *offset, &target) || target >= size_) {
      return std::nullopt;
    }
    return target;
  }

  const uint8_t* bytes(uint64_t at) const {
    return data_ + at;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// One table: where its fields are (0: absent, the default applies).
class Table {
 public:
  // nullopt when the table or its vtable leaves the buffer.
  static std::optional<Table> at(const FlatReader& reader, uint64_t position) {
    const auto soffset = reader.scalar<int32_t>(position);
    if (!soffset) {
      return std::nullopt;
    }
    const int64_t vtable = static_cast<int64_t>(position) - *soffset;
    if (vtable < 0) {
      return std::nullopt;
    }
    const auto vtable_size = reader.scalar<uint16_t>(vtable);
    if (!vtable_size || *vtable_size < 4 || !reader.fits(vtable, *vtable_size)) {
      return std::nullopt;
    }
    return Table(reader, position, static_cast<uint64_t>(vtable), *vtable_size);
  }

  uint64_t field_position(int field) const {
    const uint64_t entry = 4 + 2 * static_cast<uint64_t>(field);
    if (entry + 2 > vtable_size_) {
      return 0;
    }
    const uint16_t offset = *reader_->scalar<uint16_t>(vtable_ + entry);
    return offset == 0 ? 0 : position_ + offset;
  }

  template <typename T>
  std::optional<T> scalar(int field, T fallback = T()) const {
    const uint64_t at = field_position(field);
    return at == 0 ? std::optional<T>(fallback) : reader_->scalar<T>(at);
  }

  // The position of a referenced table/vector/string; 0 when absent,
  // nullopt when it points outside the buffer.
  std::optional<uint64_t> reference(int field) const {
    const uint64_t at = field_position(field);
    if (at == 0) {
      return uint64_t{0};
    }
    return reader_->follow(at);
  }

 private:
  Table(const FlatReader& reader, uint64_t position, uint64_t vtable, uint16_t vtable_size)
      : reader_(&reader), position_(position), vtable_(vtable), vtable_size_(vtable_size) {}

  const FlatReader* reader_;
  uint64_t position_;
  uint64_t vtable_;
  uint16_t vtable_size_;
};

// A vector's element count and first element, checked to lie in the buffer.
struct Vector {
  uint64_t first = 0;
  uint32_t count = 0;
};

// Reads the tables of one .pte, refusing on the first problem; `where`
// names the part being read for the message.
class ProgramReader {
 public:
  ProgramReader(const uint8_t* data, size_t size) : reader_(data, size) {}

  std::optional<Vector> vector(const Table& table, int field, size_t element_size, const char* what) {
    const auto at = table.reference(field);
    if (!at) {
      refuse("%s points outside the program's flatbuffer", what);
      return std::nullopt;
    }
    if (*at == 0) {
      return Vector{};
    }
    const auto count = reader_.scalar<uint32_t>(*at);
    // count * element_size cannot overflow 64 bits (32-bit count, small size).
    if (!count || !reader_.fits(*at + 4, static_cast<uint64_t>(*count) * element_size)) {
      refuse("%s: its length runs past the end of the program's flatbuffer", what);
      return std::nullopt;
    }
    return Vector{*at + 4, *count};
  }

  std::optional<std::string> string(const Table& table, int field, const char* what) {
    const auto v = vector(table, field, 1, what);
    if (!v) {
      return std::nullopt;
    }
    return std::string(reinterpret_cast<const char*>(reader_.bytes(v->first)), v->count);
  }

  std::optional<Table> table_at(const Vector& v, uint32_t index, const char* what) {
    const auto position = reader_.follow(v.first + 4 * static_cast<uint64_t>(index));
    auto table = position ? Table::at(reader_, *position) : std::nullopt;
    if (!table) {
      refuse("%s points outside the program's flatbuffer", what);
    }
    return table;
  }

  // False (reported) when the reference is damaged; *out stays empty when
  // the table is absent.
  bool table(const Table& parent, int field, const char* what, std::optional<Table>* out) {
    const auto position = parent.reference(field);
    if (position && *position == 0) {
      return true;
    }
    *out = position ? Table::at(reader_, *position) : std::nullopt;
    if (!*out) {
      refuse("%s points outside the program's flatbuffer", what);
    }
    return out->has_value();
  }

  template <typename T>
  T element(const Vector& v, uint32_t index) const {
    return *reader_.scalar<T>(v.first + sizeof(T) * static_cast<uint64_t>(index));
  }

  const FlatReader& reader() const {
    return reader_;
  }

 private:
  FlatReader reader_;
};

struct Segment {
  uint64_t begin = 0; // absolute, in the file
  uint64_t end = 0;
};

// Who reads each segment and each inline delegate datum: one kind of user
// each (constants, mutable data, named data, or the delegates of one
// backend). ExecuTorch's emitter shares identical delegate data between
// delegates of one backend, so that is allowed.
class DataUsers {
 public:
  // False (and reported) when `user` reads data another kind already reads.
  bool add(const char* data_kind, uint32_t index, const std::string& user) {
    auto [it, inserted] = users_[{data_kind, index}].insert(user);
    (void)it;
    const auto& users = users_[{data_kind, index}];
    if (inserted && users.size() > 1) {
      const std::string& first = *users.begin() == user ? *std::next(users.begin()) : *users.begin();
      report_error(Error::InvalidProgram,
                   "%s %u is read by %s and by %s; each piece of program data must belong to the one part that "
                   "reads it (re-export the program)",
                   data_kind, index, first.c_str(), user.c_str());
      return false;
    }
    return true;
  }

 private:
  std::map<std::pair<std::string, uint32_t>, std::set<std::string>> users_;
};

std::string method_label(const std::string& name) {
  return "method " + printable_quoted(name);
}

class ProgramCheck {
 public:
  ProgramCheck(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  Result<ProgramLayout> run() {
    ProgramLayout layout;
    layout.file_size = size_;
    if (size_ < kExtendedHeaderAt) {
      return refuse_size("the file is %s bytes, too short for an ExecuTorch program");
    }
    if (std::memcmp(data_ + 4, kProgramIdentifier, 4) != 0) {
      return refuse("the file identifier is %s, expected \"ET12\": this is not an ExecuTorch program of this "
                    "ExecuTorch's schema (re-export it with the ExecuTorch these loaders use)",
                    printable_quoted(reinterpret_cast<const char*>(data_ + 4), 4));
    }
    if (!read_header()) {
      return Error::InvalidProgram;
    }
    ProgramReader program(data_, flatbuffer_size_);
    const auto root_position = program.reader().follow(0);
    const auto root = root_position ? Table::at(program.reader(), *root_position) : std::nullopt;
    if (!root) {
      return refuse("the program's root table points outside its flatbuffer (the file is damaged)");
    }
    if (!read_segments(program, *root) || !read_inline_data(program, *root) || !read_data_users(program, *root)) {
      return Error::InvalidProgram;
    }
    const auto plans = program.vector(*root, field::kExecutionPlan, 4, "the program's method list");
    if (!plans) {
      return Error::InvalidProgram;
    }
    std::set<std::string> names;
    for (uint32_t i = 0; i < plans->count; ++i) {
      MethodRequirements method;
      if (!read_method(program, *plans, i, &method)) {
        return Error::InvalidProgram;
      }
      if (!names.insert(method.name).second) {
        return refuse("the program has two methods named %s", printable_quoted(method.name));
      }
      layout.methods.push_back(std::move(method));
    }
    return layout;
  }

 private:
  Error refuse_size(const char* format) {
    return refuse(format, std::to_string(size_));
  }

  bool read_header() {
    flatbuffer_size_ = size_;
    if (size_ < kExtendedHeaderAt + 8 || std::memcmp(data_ + kExtendedHeaderAt, kExtendedHeaderMagic, 4) != 0) {
      return true; // no extended header: the whole file is the flatbuffer, and there are no segments
    }
    FlatReader header(data_, size_);
    const uint32_t length = *header.scalar<uint32_t>(kExtendedHeaderAt + 4);
    if (length < kExtendedHeaderMinLength || !header.fits(kExtendedHeaderAt, length)) {
      report_error(Error::InvalidProgram, "the extended header says it is %u bytes; it must be at least %u and fit "
                   "in the %zu-byte file", length, kExtendedHeaderMinLength, size_);
      return false;
    }
    const uint64_t program_size = *header.scalar<uint64_t>(kExtendedHeaderAt + 8);
    segment_base_ = *header.scalar<uint64_t>(kExtendedHeaderAt + 16);
    const uint64_t data_size =
        length >= kExtendedHeaderLengthWithDataSize ? *header.scalar<uint64_t>(kExtendedHeaderAt + 24) : 0;
    if (program_size < kExtendedHeaderAt + length || program_size > size_) {
      report_error(Error::InvalidProgram, "the header's program size %llu does not fit the %zu-byte file "
                   "(the file is truncated or damaged)", static_cast<unsigned long long>(program_size), size_);
      return false;
    }
    uint64_t segments_end = 0;
    if (segment_base_ != 0 && (segment_base_ < program_size || add_overflows(segment_base_, data_size, &segments_end) ||
                               segments_end > size_)) {
      report_error(Error::InvalidProgram, "the header's segment data (base offset %llu, %llu bytes) does not fit "
                   "between the program's %llu-byte flatbuffer and the end of the %zu-byte file (the file is "
                   "truncated or damaged)", static_cast<unsigned long long>(segment_base_),
                   static_cast<unsigned long long>(data_size), static_cast<unsigned long long>(program_size), size_);
      return false;
    }
    flatbuffer_size_ = program_size;
    return true;
  }

  bool read_segments(ProgramReader& program, const Table& root) {
    const auto list = program.vector(root, field::kSegments, 4, "the segment table");
    if (!list) {
      return false;
    }
    if (segment_base_ == 0) {
      // No segment data in the file: ExecuTorch's writer may still list the
      // segments of the file it was read from; only a user of one is wrong.
      segment_count_without_data_ = list->count;
      return true;
    }
    for (uint32_t i = 0; i < list->count; ++i) {
      const auto entry = program.table_at(*list, i, "a segment table entry");
      if (!entry) {
        return false;
      }
      const auto offset = entry->scalar<uint64_t>(field::kOffset);
      const auto size = entry->scalar<uint64_t>(field::kSize);
      Segment segment;
      if (!offset || !size || add_overflows(segment_base_, *offset, &segment.begin) ||
          add_overflows(segment.begin, *size, &segment.end) || segment.end > size_) {
        report_error(Error::InvalidProgram, "data segment %u (offset %llu, %llu bytes after the segment base %llu) "
                     "runs past the end of the %zu-byte file (the file is truncated or damaged)", i,
                     static_cast<unsigned long long>(offset.value_or(0)),
                     static_cast<unsigned long long>(size.value_or(0)),
                     static_cast<unsigned long long>(segment_base_), size_);
        return false;
      }
      segments_.push_back(segment);
    }
    std::vector<uint32_t> order(segments_.size());
    for (uint32_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return segments_[a].begin < segments_[b].begin; });
    const Segment* previous = nullptr;
    uint32_t previous_index = 0;
    for (uint32_t index : order) {
      const Segment& segment = segments_[index];
      if (segment.end == segment.begin) {
        continue;
      }
      if (previous != nullptr && segment.begin < previous->end) {
        report_error(Error::InvalidProgram, "data segments %u (bytes %llu..%llu) and %u (bytes %llu..%llu) overlap: "
                     "one would be read as the other's data (the file is damaged)", previous_index,
                     static_cast<unsigned long long>(previous->begin), static_cast<unsigned long long>(previous->end),
                     index, static_cast<unsigned long long>(segment.begin),
                     static_cast<unsigned long long>(segment.end));
        return false;
      }
      previous = &segment;
      previous_index = index;
    }
    return true;
  }

  bool read_inline_data(ProgramReader& program, const Table& root) {
    const auto list = program.vector(root, field::kBackendDelegateData, 4, "the inline delegate data list");
    if (!list) {
      return false;
    }
    for (uint32_t i = 0; i < list->count; ++i) {
      const auto entry = program.table_at(*list, i, "an inline delegate data entry");
      const auto bytes = entry ? program.vector(*entry, field::kData, 1, "inline delegate data") : std::nullopt;
      if (!bytes) {
        return false;
      }
      inline_data_.push_back(*bytes);
    }
    return true;
  }

  bool segment_in_range(uint32_t index, const std::string& user) {
    if (index < segments_.size()) {
      return true;
    }
    if (index < segment_count_without_data_) {
      report_error(Error::InvalidProgram, "%s reads data segment %u, but the file holds no segment data (its header "
                   "has no segment base offset; the file is damaged)", user.c_str(), index);
      return false;
    }
    report_error(Error::InvalidProgram, "%s reads data segment %u; the program has %zu (the file is damaged)",
                 user.c_str(), index, segments_.size());
    return false;
  }

  // Constants, mutable data and named data: each segment they read exists and
  // belongs to them.
  bool read_data_users(ProgramReader& program, const Table& root) {
    auto subsegments = [&](const Table& table, const char* user, bool constants) {
      const auto index = table.scalar<uint32_t>(field::kSegmentIndex);
      const auto offsets = program.vector(table, field::kOffsets, 8, user);
      if (!index || !offsets) {
        return false;
      }
      if (offsets->count == 0 || (constants && offsets->count == 1)) {
        return true; // entry 0 stands for "not constant": nothing is read from the segment
      }
      if (!segment_in_range(*index, user) || !users_.add("data segment", *index, user)) {
        return false;
      }
      const Segment& segment = segments_[*index];
      for (uint32_t k = 0; k < offsets->count; ++k) {
        const uint64_t offset = program.element<uint64_t>(*offsets, k);
        if (offset > segment.end - segment.begin) {
          report_error(Error::InvalidProgram, "%s: entry %u starts at byte %llu of data segment %u, which has %llu "
                       "bytes (the file is damaged)", user, k, static_cast<unsigned long long>(offset), *index,
                       static_cast<unsigned long long>(segment.end - segment.begin));
          return false;
        }
      }
      if (constants) {
        constant_segment_ = *index;
        constant_offsets_ = *offsets;
      }
      return true;
    };
    std::optional<Table> constants;
    if (!program.table(root, field::kConstantSegment, "the constant segment", &constants) ||
        (constants && !subsegments(*constants, "the constant data", true))) {
      return false;
    }
    const auto mutable_list = program.vector(root, field::kMutableDataSegments, 4, "the mutable data list");
    const auto named_list = program.vector(root, field::kNamedData, 4, "the named data list");
    if (!mutable_list || !named_list) {
      return false;
    }
    for (uint32_t i = 0; i < mutable_list->count; ++i) {
      const auto entry = program.table_at(*mutable_list, i, "a mutable data entry");
      if (!entry || !subsegments(*entry, "the mutable data", false)) {
        return false;
      }
    }
    for (uint32_t i = 0; i < named_list->count; ++i) {
      const auto entry = program.table_at(*named_list, i, "a named data entry");
      const auto index = entry ? entry->scalar<uint32_t>(field::kNamedSegmentIndex) : std::nullopt;
      if (!index) {
        if (entry) {
          refuse("a named data entry lies outside the program's flatbuffer");
        }
        return false;
      }
      if (!segment_in_range(*index, "named data entry " + std::to_string(i)) ||
          !users_.add("data segment", *index, "the named data")) {
        return false;
      }
    }
    return true;
  }

  bool read_method(ProgramReader& program, const Vector& plans, uint32_t index, MethodRequirements* method) {
    const auto plan = program.table_at(plans, index, "a method");
    const auto name = plan ? program.string(*plan, field::kName, "a method name") : std::nullopt;
    if (!name) {
      return false;
    }
    if (!is_printable_utf8(*name) || name->empty()) {
      report_error(Error::InvalidProgram, "method %u is named %s, which is not printable UTF-8 text (the file is "
                   "damaged, or was written by another tool)", index, printable_quoted(*name).c_str());
      return false;
    }
    method->name = *name;
    const std::string label = method_label(*name);
    return read_operators(program, *plan, label, method) && read_delegates(program, *plan, label, method) &&
        read_tensors(program, *plan, label) && read_indices(program, *plan, label);
  }

  // Every index a method holds (values, operators, delegates, instructions)
  // lies in its list: ExecuTorch trusts them, and asserts or reads out of
  // bounds when they do not.
  bool read_indices(ProgramReader& program, const Table& plan, const std::string& label) {
    const auto values = program.vector(plan, field::kValues, 4, "the value list");
    const auto ops = values ? program.vector(plan, field::kOperators, 4, "an operator list") : std::nullopt;
    const auto delegates = ops ? program.vector(plan, field::kDelegates, 4, "a delegate list") : std::nullopt;
    const auto chains = delegates ? program.vector(plan, field::kChains, 4, "the chain list") : std::nullopt;
    if (!chains) {
      return false;
    }
    const uint32_t n_values = values->count;
    auto in_range = [&](int64_t index, uint64_t count, const char* what, const std::string& where) {
      if (index >= 0 && static_cast<uint64_t>(index) < count) {
        return true;
      }
      report_error(Error::InvalidProgram, "%s: %s refers to %s %lld; the method has %llu (the file is damaged)",
                   label.c_str(), where.c_str(), what, static_cast<long long>(index),
                   static_cast<unsigned long long>(count));
      return false;
    };
    auto value_list = [&](const Table& table, int field, const std::string& where, bool allow_none) {
      const auto list = program.vector(table, field, 4, where.c_str());
      if (!list) {
        return false;
      }
      for (uint32_t k = 0; k < list->count; ++k) {
        const int32_t index = program.element<int32_t>(*list, k);
        if (!(allow_none && index == -1) && !in_range(index, n_values, "value", where)) {
          return false;
        }
      }
      return true;
    };
    if (!value_list(plan, field::kInputs, "its input list", false) ||
        !value_list(plan, field::kOutputs, "its output list", false)) {
      return false;
    }
    for (uint32_t v = 0; v < n_values; ++v) {
      const auto value = program.table_at(*values, v, "a value");
      const auto type = value ? value->scalar<uint8_t>(field::kValType) : std::nullopt;
      if (!type) {
        return false;
      }
      const std::string where = "value " + std::to_string(v);
      if (*type > kValueTypeOptionalTensorList) {
        report_error(Error::InvalidProgram, "%s: %s has type code %u, which is no ExecuTorch value type",
                     label.c_str(), where.c_str(), *type);
        return false;
      }
      std::optional<Table> val;
      if (!program.table(*value, field::kVal, "a value", &val)) {
        return false;
      }
      if (*type > kValueTypeNull && !val) {
        report_error(Error::InvalidProgram, "%s: %s has type code %u but no data (the file is damaged)", label.c_str(),
                     where.c_str(), *type);
        return false;
      }
      if (*type == kValueTypeIntList || *type == kValueTypeTensorList || *type == kValueTypeOptionalTensorList) {
        // Their items are indices of other values (IntList's too).
        const size_t item_size = *type == kValueTypeIntList ? 8 : 4;
        const auto items = program.vector(*val, field::kItems, item_size, where.c_str());
        if (!items) {
          return false;
        }
        for (uint32_t k = 0; k < items->count; ++k) {
          const int64_t index =
              item_size == 8 ? program.element<int64_t>(*items, k) : program.element<int32_t>(*items, k);
          if (!(*type == kValueTypeOptionalTensorList && index == -1) &&
              !in_range(index, n_values, "value", where + " item " + std::to_string(k))) {
            return false;
          }
        }
      }
    }
    for (uint32_t c = 0; c < chains->count; ++c) {
      const std::string where = "chain " + std::to_string(c);
      const auto chain = program.table_at(*chains, c, "a chain");
      if (!chain || !value_list(*chain, field::kChainInputs, where + " inputs", false) ||
          !value_list(*chain, field::kChainOutputs, where + " outputs", false)) {
        return false;
      }
      const auto instructions = program.vector(*chain, field::kInstructions, 4, "an instruction list");
      if (!instructions) {
        return false;
      }
      for (uint32_t i = 0; i < instructions->count; ++i) {
        const std::string at = where + " instruction " + std::to_string(i);
        const auto instruction = program.table_at(*instructions, i, "an instruction");
        const auto type = instruction ? instruction->scalar<uint8_t>(field::kInstructionType) : std::nullopt;
        std::optional<Table> call;
        if (!type || !program.table(*instruction, field::kInstructionArgs, "an instruction", &call)) {
          return false;
        }
        if (!call || *type < kKernelCall || *type > kFreeCall) {
          report_error(Error::InvalidProgram, "%s: %s has instruction type %u and %s (the file is damaged)",
                       label.c_str(), at.c_str(), *type, call ? "arguments" : "no arguments");
          return false;
        }
        const auto first = call->scalar<int32_t>(field::kFirst);
        const auto second = call->scalar<int32_t>(field::kSecond);
        if (!first || ((*type == kMoveCall || *type == kJumpFalseCall) && !second)) {
          return false;
        }
        bool ok = true;
        switch (*type) {
          case kKernelCall:
            ok = in_range(*first, ops->count, "operator", at) && value_list(*call, field::kSecond, at, false);
            break;
          case kDelegateCall:
            ok = in_range(*first, delegates->count, "delegate", at) && value_list(*call, field::kSecond, at, false);
            break;
          case kMoveCall:
            ok = in_range(*first, n_values, "value", at) && in_range(*second, n_values, "value", at);
            break;
          case kJumpFalseCall:
            // A jump to the chain's end (index == count) finishes the chain: ExecuTorch's
            // emitter writes one when a torch.cond's false branch is the method's last code.
            ok = in_range(*first, n_values, "value", at) &&
                 (static_cast<int64_t>(*second) == static_cast<int64_t>(instructions->count) ||
                  in_range(*second, instructions->count, "instruction", at));
            break;
          default: // kFreeCall
            ok = in_range(*first, n_values, "value", at);
        }
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }

  bool read_operators(ProgramReader& program, const Table& plan, const std::string& label, MethodRequirements* method) {
    const auto list = program.vector(plan, field::kOperators, 4, "an operator list");
    if (!list) {
      return false;
    }
    for (uint32_t i = 0; i < list->count; ++i) {
      const auto op = program.table_at(*list, i, "an operator");
      const auto name = op ? program.string(*op, field::kOperatorName, "an operator name") : std::nullopt;
      const auto overload = name ? program.string(*op, field::kOverload, "an operator overload") : std::nullopt;
      if (!overload) {
        return false;
      }
      method->operators.push_back(overload->empty() ? *name : *name + "." + *overload);
    }
    return true;
  }

  bool read_delegates(ProgramReader& program, const Table& plan, const std::string& label, MethodRequirements* method) {
    const auto list = program.vector(plan, field::kDelegates, 4, "a delegate list");
    if (!list) {
      return false;
    }
    for (uint32_t i = 0; i < list->count; ++i) {
      const auto delegate = program.table_at(*list, i, "a delegate");
      const auto id = delegate ? program.string(*delegate, field::kId, "a backend id") : std::nullopt;
      if (!id) {
        return false;
      }
      const std::string user = label + " delegate " + std::to_string(i) + " (backend " + printable_quoted(*id) + ")";
      if (id->empty() || !read_compile_specs(program, *delegate, user)) {
        if (id->empty()) {
          report_error(Error::InvalidProgram, "%s has no backend id (the file is damaged)", user.c_str());
        }
        return false;
      }
      std::optional<Table> processed;
      if (!program.table(*delegate, field::kProcessed, "a delegate's data reference", &processed)) {
        return false;
      }
      const auto location = processed ? processed->scalar<uint8_t>(field::kLocation) : std::nullopt;
      const auto data_index = processed ? processed->scalar<uint32_t>(field::kIndex) : std::nullopt;
      if (!location || !data_index) {
        report_error(Error::InvalidProgram, "%s has no readable reference to its data (the file is damaged)",
                     user.c_str());
        return false;
      }
      DelegateReference reference{*id, *location == kDataLocationSegment, *data_index};
      if (*location != kDataLocationSegment && *location != kDataLocationInline) {
        report_error(Error::InvalidProgram, "%s: data location %u is neither inline (0) nor a segment (1)",
                     user.c_str(), *location);
        return false;
      }
      const uint8_t* start = nullptr;
      uint64_t length = 0;
      if (reference.in_segment) {
        if (!segment_in_range(*data_index, user)) {
          return false;
        }
        start = data_ + segments_[*data_index].begin;
        length = segments_[*data_index].end - segments_[*data_index].begin;
      } else if (*data_index >= inline_data_.size()) {
        report_error(Error::InvalidProgram, "%s reads inline delegate data %u; the program has %zu (the file is "
                     "damaged)", user.c_str(), *data_index, inline_data_.size());
        return false;
      } else {
        start = program.reader().bytes(inline_data_[*data_index].first);
        length = inline_data_[*data_index].count;
      }
      const char* kind = reference.in_segment ? "data segment" : "inline delegate data";
      if (!users_.add(kind, *data_index, "the delegates of backend " + printable_quoted(*id))) {
        return false;
      }
      // This backend's data starts with its blob magic; anything else is
      // another part's data (segments swapped or renumbered).
      if (*id == kBackendId &&
          (length < sizeof(kBlobMagic) || std::memcmp(start, kBlobMagic, sizeof(kBlobMagic)) != 0)) {
        report_error(Error::InvalidProgram, "%s reads %s %u, which is not a delegate blob of this backend (it does "
                     "not start with 'ETRT'): the program's data references are damaged", user.c_str(), kind,
                     *data_index);
        return false;
      }
      method->delegates.push_back(std::move(reference));
    }
    return true;
  }

  // ExecuTorch reads every compile spec's key and value without a check.
  bool read_compile_specs(ProgramReader& program, const Table& delegate, const std::string& user) {
    const auto specs = program.vector(delegate, field::kCompileSpecs, 4, "a compile spec list");
    if (!specs) {
      return false;
    }
    if (delegate.field_position(field::kCompileSpecs) == 0) {
      report_error(Error::InvalidProgram, "%s has no compile spec list (the file is damaged)", user.c_str());
      return false;
    }
    for (uint32_t k = 0; k < specs->count; ++k) {
      const auto spec = program.table_at(*specs, k, "a compile spec");
      if (!spec || !program.vector(*spec, field::kValue, 1, "a compile spec value") ||
          !program.vector(*spec, field::kKey, 1, "a compile spec key")) {
        return false;
      }
      if (spec->field_position(field::kKey) == 0 || spec->field_position(field::kValue) == 0) {
        report_error(Error::InvalidProgram, "%s: compile spec %u has no %s (the file is damaged)", user.c_str(), k,
                     spec->field_position(field::kKey) == 0 ? "key" : "value");
        return false;
      }
    }
    return true;
  }

  // Every tensor's element count and byte size fit 64 bits, planned tensors
  // lie inside their planned buffer, and constants inside the constant data.
  bool read_tensors(ProgramReader& program, const Table& plan, const std::string& label) {
    const auto buffers = program.vector(plan, field::kNonConstBufferSizes, 8, "the planned buffer sizes");
    const auto values = buffers ? program.vector(plan, field::kValues, 4, "the value list") : std::nullopt;
    if (!values) {
      return false;
    }
    std::set<uint32_t> device_buffers;
    if (!read_device_buffers(program, plan, &device_buffers)) {
      return false;
    }
    uint64_t planned_total = 0, host_total = 0;
    for (uint32_t b = 0; b < buffers->count; ++b) {
      const int64_t size = program.element<int64_t>(*buffers, b);
      if (size < 0 || add_overflows(planned_total, static_cast<uint64_t>(size), &planned_total)) {
        report_error(Error::InvalidProgram, "%s: planned buffer %u has size %lld (the file is damaged)", label.c_str(),
                     b, static_cast<long long>(size));
        return false;
      }
      host_total += device_buffers.count(b) ? 0 : static_cast<uint64_t>(size); // <= planned_total
    }
    if (planned_total > kMaxPlannedBytes) {
      report_error(Error::InvalidProgram, "%s plans %llu bytes of memory, more than a 64-bit host can address "
                   "(the file is damaged)", label.c_str(), static_cast<unsigned long long>(planned_total));
      return false;
    }
    // ExecuTorch's Module zero-fills host-planned buffers at load: a plan
    // beyond the host's memory would end in the kernel's OOM killer, not an
    // error.
    const uint64_t memory = host_memory_bytes();
    if (memory != 0 && host_total > memory) {
      report_error(Error::MemoryAllocationFailed, "%s plans %llu bytes of host memory, more than this host's %llu "
                   "bytes of memory", label.c_str(), static_cast<unsigned long long>(host_total),
                   static_cast<unsigned long long>(memory));
      return false;
    }
    // The caller binds a method's inputs and outputs; any other tensor needs
    // planned, constant or external memory, or kernels write through null.
    std::set<int32_t> bound;
    for (int io_field : {field::kInputs, field::kOutputs}) {
      const auto list = program.vector(plan, io_field, 4, "a method's input or output list");
      if (!list) {
        return false;
      }
      for (uint32_t k = 0; k < list->count; ++k) {
        bound.insert(program.element<int32_t>(*list, k));
      }
    }
    for (uint32_t v = 0; v < values->count; ++v) {
      const auto value = program.table_at(*values, v, "a value");
      const auto type = value ? value->scalar<uint8_t>(field::kValType) : std::nullopt;
      if (!type) {
        return false;
      }
      if (*type != kValueTypeTensor) {
        continue;
      }
      bound_by_caller_ = bound.count(static_cast<int32_t>(v)) > 0;
      std::optional<Table> tensor;
      if (!program.table(*value, field::kVal, "a tensor value", &tensor)) {
        return false;
      }
      if (!tensor) {
        report_error(Error::InvalidProgram, "%s: value %u is a tensor with no table (the file is damaged)",
                     label.c_str(), v);
        return false;
      }
      if (!read_tensor(program, *tensor, label + " value " + std::to_string(v), *buffers)) {
        return false;
      }
    }
    return true;
  }

  // The planned buffers a method places on a device (not in host memory).
  bool read_device_buffers(ProgramReader& program, const Table& plan, std::set<uint32_t>* out) {
    const auto list = program.vector(plan, field::kNonConstBufferDevice, 4, "the planned buffer devices");
    if (!list) {
      return false;
    }
    for (uint32_t i = 0; i < list->count; ++i) {
      const auto entry = program.table_at(*list, i, "a planned buffer device");
      const auto index = entry ? entry->scalar<int32_t>(field::kBufferIndex) : std::nullopt;
      const auto device = entry ? entry->scalar<int8_t>(field::kDeviceType) : std::nullopt;
      if (!index || !device) {
        return false;
      }
      if (*index >= 0 && *device != 0) { // DeviceType CPU = 0
        out->insert(static_cast<uint32_t>(*index));
      }
    }
    return true;
  }

  static uint64_t host_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) : 0;
  }

  bool read_tensor(ProgramReader& program, const Table& tensor, const std::string& label, const Vector& buffers) {
    const auto scalar_type = tensor.scalar<int8_t>(field::kScalarType);
    const auto sizes = program.vector(tensor, field::kSizes, 4, "a tensor's sizes");
    if (!scalar_type || !sizes) {
      return false;
    }
    const auto type = static_cast<executorch::aten::ScalarType>(*scalar_type);
    if (!executorch::runtime::isValid(type)) {
      report_error(Error::InvalidProgram, "%s: tensor dtype code %d is not an ExecuTorch scalar type", label.c_str(),
                   *scalar_type);
      return false;
    }
    uint64_t nbytes = executorch::runtime::elementSize(type);
    std::string dims;
    for (uint32_t d = 0; d < sizes->count; ++d) {
      const int32_t dim = program.element<int32_t>(*sizes, d);
      dims += (d ? ", " : "") + std::to_string(dim);
      if (dim < 0 || __builtin_mul_overflow(nbytes, static_cast<uint64_t>(dim), &nbytes) ||
          nbytes > static_cast<uint64_t>(INT64_MAX)) {
        report_error(Error::InvalidProgram, "%s: tensor sizes [%s%s] %s", label.c_str(), dims.c_str(),
                     d + 1 < sizes->count ? ", ..." : "",
                     dim < 0 ? "hold a negative size" : "give a byte size beyond 2^63");
        return false;
      }
    }
    std::optional<Table> allocation;
    if (!program.table(tensor, field::kAllocationInfo, "a tensor's memory plan", &allocation)) {
      return false;
    }
    if (allocation) {
      const auto memory_id = allocation->scalar<uint32_t>(field::kMemoryId);
      const auto low = allocation->scalar<uint32_t>(field::kOffsetLow);
      const auto high = allocation->scalar<uint32_t>(field::kOffsetHigh);
      if (!memory_id || !low || !high) {
        return false;
      }
      // ExecuTorch numbers planned buffers from 1 (buffer 0 is reserved).
      const uint64_t offset = (static_cast<uint64_t>(*high) << 32) | *low;
      uint64_t end = 0;
      const uint64_t capacity =
          *memory_id < buffers.count ? static_cast<uint64_t>(program.element<int64_t>(buffers, *memory_id)) : 0;
      if (*memory_id >= buffers.count || add_overflows(offset, nbytes, &end) || end > capacity) {
        report_error(Error::InvalidProgram, "%s: tensor [%s] (%llu bytes) is planned at byte %llu of buffer %u, which "
                     "%s (the file is damaged)", label.c_str(), dims.c_str(), static_cast<unsigned long long>(nbytes),
                     static_cast<unsigned long long>(offset), *memory_id,
                     *memory_id >= buffers.count ? "the method does not have"
                                                 : ("has " + std::to_string(capacity) + " bytes").c_str());
        return false;
      }
      return true;
    }
    const auto buffer_index = tensor.scalar<uint32_t>(field::kDataBufferIndex);
    if (!buffer_index) {
      return false;
    }
    if (*buffer_index == 0 && nbytes > 0 && !bound_by_caller_ && tensor.field_position(field::kExtraTensorInfo) == 0) {
      report_error(Error::InvalidProgram, "%s: tensor [%s] has no memory: it is not planned, not constant, and not "
                   "an input or output of the method (the file is damaged)", label.c_str(), dims.c_str());
      return false;
    }
    if (*buffer_index > 0 && constant_segment_ && constant_offsets_.count > 0) {
      const Segment& segment = segments_[*constant_segment_];
      uint64_t end = 0;
      if (*buffer_index >= constant_offsets_.count ||
          add_overflows(program.element<uint64_t>(constant_offsets_, *buffer_index), nbytes, &end) ||
          end > segment.end - segment.begin) {
        report_error(Error::InvalidProgram, "%s: constant tensor [%s] (%llu bytes, constant %u) does not lie inside "
                     "the program's %llu bytes of constant data (%u constants; the file is damaged)", label.c_str(),
                     dims.c_str(), static_cast<unsigned long long>(nbytes), *buffer_index,
                     static_cast<unsigned long long>(segment.end - segment.begin), constant_offsets_.count);
        return false;
      }
    }
    return true;
  }

  const uint8_t* data_;
  size_t size_;
  uint64_t flatbuffer_size_ = 0;
  uint64_t segment_base_ = 0;
  std::vector<Segment> segments_;
  bool bound_by_caller_ = false; // the tensor being read is a method input or output
  uint32_t segment_count_without_data_ = 0;
  std::vector<Vector> inline_data_;
  std::optional<uint32_t> constant_segment_;
  Vector constant_offsets_;
  DataUsers users_;
};

// A read-only private mapping of a whole file, unmapped on destruction.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr) {
      munmap(data_, size_);
    }
  }
  Error open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      return report_error(Error::AccessFailed, "cannot open '%s': %s", path.c_str(),
                          std::strerror(errno));
    }
    struct stat info {};
    Error err = Error::Ok;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      err = report_error(Error::AccessFailed, "'%s' is not a regular file", path.c_str());
    } else if (info.st_size > 0) {
      size_ = static_cast<size_t>(info.st_size);
      void* mapped = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (mapped == MAP_FAILED) {
        err = report_error(Error::AccessFailed, "cannot map '%s': %s", path.c_str(),
                           std::strerror(errno));
      } else {
        data_ = mapped;
      }
    }
    ::close(fd);
    return err;
  }
  const uint8_t* data() const {
    return static_cast<const uint8_t*>(data_);
  }
  size_t size() const {
    return data_ == nullptr ? 0 : size_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

bool has_kernel_named(const std::string& name) {
  for (const auto& kernel : executorch::runtime::get_registered_kernels()) {
    if (kernel.name_ != nullptr && name == kernel.name_) {
      return true;
    }
  }
  return false;
}

} // namespace

const MethodRequirements* ProgramLayout::method(const std::string& name) const {
  for (const MethodRequirements& m : methods) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

namespace {

// flat_tensor.fbs: FlatTensor (version, segments, named_data), NamedData
// (key, segment_index, tensor_layout).
enum FlatTensorField { kFlatTensorSegments = 1, kFlatTensorNamedData = 2 };
enum NamedDataField { kNamedDataKey = 0, kNamedDataSegmentIndex = 1, kNamedDataTensorLayout = 2 };
// TensorLayout (scalar_type, sizes, dim_order); DataSegment (offset, size).
enum TensorLayoutField { kLayoutSizes = 1, kLayoutDimOrder = 2 };

// The element count of the vector `field` of `table` (elements of
// `element_size` bytes, all inside the buffer); nullopt when it leaves it.
std::optional<uint32_t> vector_count(const FlatReader& reader, const Table& table, int field, uint64_t element_size) {
  const auto at = table.reference(field);
  if (!at) {
    return std::nullopt;
  }
  if (*at == 0) {
    return 0u;
  }
  const auto count = reader.scalar<uint32_t>(*at);
  if (!count || !reader.fits(*at + 4, uint64_t{*count} * element_size)) {
    return std::nullopt;
  }
  return count;
}

// A tensor layout ExecuTorch can read: its table, sizes and dim order inside
// the buffer, one dim-order entry per size, each naming a dim, sizes >= 0.
bool readable_layout(const FlatReader& reader, uint64_t position) {
  const auto layout = Table::at(reader, position);
  const auto type = layout ? layout->scalar<int8_t>(0) : std::nullopt;
  // ExecuTorch aborts the process sizing a layout of an unknown scalar type.
  if (!type || !executorch::runtime::isValid(static_cast<executorch::aten::ScalarType>(*type))) {
    return false;
  }
  const auto sizes = vector_count(reader, *layout, kLayoutSizes, 4);
  const auto order = vector_count(reader, *layout, kLayoutDimOrder, 1);
  if (!sizes || !order || *sizes != *order || *sizes > 16) {
    return false;
  }
  const uint64_t sizes_at = *layout->reference(kLayoutSizes) + 4, order_at = *layout->reference(kLayoutDimOrder) + 4;
  for (uint32_t d = 0; d < *sizes; ++d) {
    if (*reader.scalar<int32_t>(sizes_at + 4 * d) < 0 || *reader.scalar<uint8_t>(order_at + d) >= *sizes) {
      return false;
    }
  }
  return true;
}

Error refuse_data(const std::string& path, const std::string& why) {
  return report_error(Error::InvalidProgram, "named-data file %s: %s; pass the .ptd the program was exported with",
                      printable_quoted(path).c_str(), why.c_str());
}

// The key of a NamedData table (printable), or "" when it has none.
std::string named_data_key(const FlatReader& reader, const Table& entry) {
  const auto at = entry.reference(kNamedDataKey);
  const auto length = at && *at != 0 ? reader.scalar<uint32_t>(*at) : std::nullopt;
  if (!length || !reader.fits(*at + 4, *length)) {
    return "";
  }
  return printable_quoted(reinterpret_cast<const char*>(reader.bytes(*at + 4)), *length);
}

} // namespace

Error check_data_file(const std::string& path) {
  MappedFile file;
  Error err = file.open(path);
  if (err != Error::Ok) {
    return err;
  }
  const FlatReader reader(file.data(), file.size());
  if (file.size() < 8 || std::memcmp(file.data() + 4, "FT01", 4) != 0) {
    return refuse_data(path, "not an ExecuTorch named-data file (no FT01 flatbuffer)");
  }
  const auto root_at = reader.follow(0);
  const auto root = root_at ? Table::at(reader, *root_at) : std::nullopt;
  const auto list = root ? root->reference(kFlatTensorNamedData) : std::nullopt;
  const auto count = list && *list != 0 ? reader.scalar<uint32_t>(*list) : std::optional<uint32_t>(0);
  const auto segments = root ? vector_count(reader, *root, kFlatTensorSegments, 4) : std::nullopt;
  if (!root || !list || !count || !reader.fits(*list + 4, uint64_t{*count} * 4) || !segments) {
    return refuse_data(path, "its named-data or segment table lies outside the file");
  }
  const uint64_t segments_at = *root->reference(kFlatTensorSegments) + 4;
  for (uint32_t i = 0; i < *segments; ++i) {
    const auto segment_at = reader.follow(segments_at + uint64_t{i} * 4);
    if (!segment_at || !Table::at(reader, *segment_at) || !Table::at(reader, *segment_at)->scalar<uint64_t>(0) ||
        !Table::at(reader, *segment_at)->scalar<uint64_t>(1)) {
      return refuse_data(path, "data segment " + std::to_string(i) + " lies outside the file");
    }
  }
  for (uint32_t i = 0; i < *count; ++i) {
    const auto entry_at = reader.follow(*list + 4 + uint64_t{i} * 4);
    const auto entry = entry_at ? Table::at(reader, *entry_at) : std::nullopt;
    const auto layout = entry ? entry->reference(kNamedDataTensorLayout) : std::nullopt;
    if (!entry || !layout) {
      return refuse_data(path, "named-data entry " + std::to_string(i) + " lies outside the file");
    }
    const std::string key = named_data_key(reader, *entry);
    if (key.empty()) {
      return refuse_data(path, "named-data entry " + std::to_string(i) + " has no key");
    }
    if (*layout == 0) {
      return refuse_data(path, "named data " + key + " has no tensor layout (ExecuTorch cannot describe it to a "
                         "delegate); write each tensor with its layout (NamedDataStore.add_named_data(key, tensor))");
    }
    const auto segment = entry->scalar<uint32_t>(kNamedDataSegmentIndex);
    if (!segment || *segment >= *segments || !readable_layout(reader, *layout)) {
      return refuse_data(path, "named data " + key + " has a damaged tensor layout or segment index");
    }
  }
  return Error::Ok;
}

Result<ProgramLayout> check_program_bytes(const uint8_t* data, size_t size) {
  static const uint8_t kEmpty = 0;
  return ProgramCheck(data == nullptr ? &kEmpty : data, data == nullptr ? 0 : size).run();
}

Result<ProgramLayout> check_program_file(const std::string& path) {
  MappedFile file;
  const Error err = file.open(path);
  if (err != Error::Ok) {
    return err;
  }
  return check_program_bytes(file.data(), file.size());
}

Error check_method_requirements(const MethodRequirements& method) {
  std::vector<std::string> unknown_backends;
  for (const DelegateReference& delegate : method.delegates) {
    if (executorch::runtime::get_backend_class(delegate.backend_id.c_str()) == nullptr &&
        std::find(unknown_backends.begin(), unknown_backends.end(), delegate.backend_id) == unknown_backends.end()) {
      unknown_backends.push_back(delegate.backend_id);
    }
  }
  if (!unknown_backends.empty()) {
    return report_error(Error::NotFound, "method %s delegates to backend %s, which is not registered in this process "
                        "(registered: %s); load the library that registers it before loading the program",
                        printable_quoted(method.name).c_str(), printable_list(unknown_backends).c_str(),
                        printable_list(registered_backend_names()).c_str());
  }
  std::vector<std::string> missing;
  for (const std::string& op : method.operators) {
    if (!has_kernel_named(op) && std::find(missing.begin(), missing.end(), op) == missing.end()) {
      missing.push_back(op);
    }
  }
  if (!missing.empty()) {
    return report_error(Error::OperatorMissing, "method %s calls operator%s %s, for which no kernel is registered in "
                        "this process; link or load a kernel library that has %s (e.g. ExecuTorch's "
                        "kernels_optimized), or export with these operators delegated",
                        printable_quoted(method.name).c_str(), missing.size() > 1 ? "s" : "",
                        printable_list(missing).c_str(),
                        missing.size() > 1 ? "them" : "it");
  }
  return Error::Ok;
}

} // namespace executorch_tensorrt
