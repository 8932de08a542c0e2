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
  Result<std::unique_ptr<Engine>> loaded = (*runtime)->deserialize(engine, engine_size, metadata);
  if (!loaded.ok()) {
    return loaded.error();
  }
  Result<EngineDescription> described = (*loaded)->describe();
  if (!described.ok()) {
    return report_error(
        described.error() == Error::NotSupported ? Error::DelegateInvalidCompatibility : described.error(),
        "%s cannot describe the engine's inputs and outputs, so they cannot be checked against the delegate blob",
        (*runtime)->description().c_str());
  }
  if ((err = check_engine_matches_blob(*described, metadata)) != Error::Ok) {
    return err;
  }
  return loaded;
}

} // namespace executorch_tensorrt
