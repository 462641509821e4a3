/* libtorch side of the orderml/atom compute: load the model file and call its forward().

   forward(positions (N,3) float64, types (N,) int64, cell (3,3) float64, pbc (3,) bool,
           owned (N,) bool, length_scale float) -> Dict[str, Tensor]
   with "label" (M,) int64, "probabilities" (M,C) float32, "confidence" (M,) float32 for the
   M owned particles in input order (md_orderml/nn/labeler.py). */

#include "orderml_model.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <cstring>
#include <fstream>

namespace orderml {

static const char *METADATA_FILE = "md_orderml_metadata.json";

// First non-empty line of an exception message (torch messages span many lines).
static std::string first_line(const std::string &text)
{
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
    start = end + 1;
  }
  return "unknown error";
}

struct Model::Impl {
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  std::string metadata;
};

Model::Model(const std::string &path, const std::string &device) : impl(new Impl)
{
  if (device == "cuda") {
    if (!cuda_available())
      throw ModelError("device cuda requested but this libtorch (" + torch_version() +
                       ") has no CUDA support or sees no GPU; use device cpu");
    impl->device = torch::Device(torch::kCUDA);
  } else if (device != "cpu") {
    throw ModelError("unknown device '" + device + "' (cpu or cuda)");
  }
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe.good()) throw ModelError(path + ": model file not found or not readable");
  }
  torch::jit::ExtraFilesMap extra{{METADATA_FILE, ""}};
  try {
    impl->module = torch::jit::load(path, impl->device, extra);
  } catch (const std::exception &err) {
    throw ModelError(path + ": corrupted or foreign model file, TorchScript cannot load it (" +
                     first_line(err.what()) + ")");
  }
  impl->metadata = extra[METADATA_FILE];
  impl->module.eval();
}

Model::~Model() = default;

const std::string &Model::metadata_json() const
{
  return impl->metadata;
}

static void copy_outputs(const c10::IValue &result, Outputs &out)
{
  auto dict = result.toGenericDict();
  auto label = dict.at("label").toTensor().to(torch::kCPU, torch::kInt64).contiguous();
  auto conf = dict.at("confidence").toTensor().to(torch::kCPU, torch::kFloat32).contiguous();
  auto prob = dict.at("probabilities").toTensor().to(torch::kCPU, torch::kFloat32).contiguous();
  out.label.assign(label.data_ptr<int64_t>(), label.data_ptr<int64_t>() + label.numel());
  out.confidence.assign(conf.data_ptr<float>(), conf.data_ptr<float>() + conf.numel());
  out.probabilities.assign(prob.data_ptr<float>(), prob.data_ptr<float>() + prob.numel());
}

void Model::run_periodic(const double *x, const int64_t *types, const uint8_t *owned, int64_t n,
                         const double cell[9], const bool pbc[3], double length_scale,
                         Outputs &out)
{
  // The TorchScript profiling executor re-specialises the graph for every new atom count;
  // plain execution is faster for simulations (same choice as the Python compute).
  bool optimize = torch::jit::getGraphExecutorOptimize();
  torch::jit::setGraphExecutorOptimize(false);
  try {
    c10::InferenceMode guard;
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    auto dev = impl->device;
    // from_blob does not copy; to(dev) copies only for CUDA. LAMMPS arrays are only read.
    auto positions = torch::from_blob(const_cast<double *>(x), {n, 3}, f64).to(dev);
    auto ptypes = torch::from_blob(const_cast<int64_t *>(types), {n}, torch::kInt64).to(dev);
    auto powned = torch::from_blob(const_cast<uint8_t *>(owned), {n}, torch::kUInt8)
                      .to(dev)
                      .to(torch::kBool);
    auto pcell = torch::from_blob(const_cast<double *>(cell), {3, 3}, f64).clone().to(dev);
    auto ppbc = torch::tensor({pbc[0], pbc[1], pbc[2]}, torch::kBool).to(dev);
    std::vector<c10::IValue> inputs{positions, ptypes, pcell, ppbc, powned, length_scale};
    copy_outputs(impl->module.forward(inputs), out);
  } catch (const std::exception &err) {
    torch::jit::setGraphExecutorOptimize(optimize);
    throw ModelError("model evaluation failed (" + first_line(err.what()) + ")");
  }
  torch::jit::setGraphExecutorOptimize(optimize);
}

void Model::run(const double *x, const int64_t *types, const uint8_t *owned, int64_t n,
                double length_scale, Outputs &out)
{
  const double cell[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  const bool pbc[3] = {false, false, false};
  run_periodic(x, types, owned, n, cell, pbc, length_scale, out);
}

double Model::ghost_reach(const double *x, int64_t n, const double cell[9], const bool pbc[3],
                          double length_scale)
{
  try {
    c10::InferenceMode guard;
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    auto dev = impl->device;
    auto positions = torch::from_blob(const_cast<double *>(x), {n, 3}, f64).to(dev);
    auto pcell = torch::from_blob(const_cast<double *>(cell), {3, 3}, f64).clone().to(dev);
    auto ppbc = torch::tensor({pbc[0], pbc[1], pbc[2]}, torch::kBool).to(dev);
    std::vector<c10::IValue> inputs{positions, pcell, ppbc, length_scale};
    return impl->module.get_method("ghost_reach")(inputs).toDouble();
  } catch (const std::exception &err) {
    throw ModelError("model ghost_reach failed (" + first_line(err.what()) + ")");
  }
}

bool Model::cuda_available()
{
  return torch::cuda::is_available();
}

std::string Model::torch_version()
{
  return std::string("libtorch ") + TORCH_VERSION;
}

void Model::set_threads(int n)
{
  if (n > 0) at::set_num_threads(n);
}

int Model::threads()
{
  return at::get_num_threads();
}

}    // namespace orderml
