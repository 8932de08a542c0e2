#include "engines/engine_loader.h"

#include "engines/engine_compatibility.h"
#include "engines/engine_runtime_registry.h"
#include "common/error_report.h"

namespace executorch_tensorrt {

Result<std::unique_ptr<Engine>> load_engine(
    const EngineMetadata& metadata,
    const uint8_t* engine,
    size_t engine_size) {
  Result<EngineRuntime*> runtime = engine_runtime_for(metadata.flavour);
  if (!runtime.ok()) {
    return runtime.error();
  }
  Error err = (*runtime)->check_device(metadata.device_index);
  if (err != Error::Ok) {
    return err;
  }
  const CompatibilityVerdict verdict = check_compatibility(
      EngineIdentity{metadata.flavour, metadata.builder_version},
      metadata.version_compatible,
      (*runtime)->identity());
  if (!verdict.compatible) {
    return report_error(Error::DelegateInvalidCompatibility, "%s", verdict.reason.c_str());
  }
  return (*runtime)->deserialize(engine, engine_size, metadata);
}

} // namespace executorch_tensorrt
