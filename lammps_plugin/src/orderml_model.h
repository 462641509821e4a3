/* md_orderml model file loaded with libtorch (no LAMMPS and no torch types in this header).

   Keeping torch out of the LAMMPS translation units keeps their compile time short and
   avoids any clash between LAMMPS and torch headers. */

#ifndef ORDERML_MODEL_H
#define ORDERML_MODEL_H

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace orderml {

// One-line error from loading or running a model.
class ModelError : public std::runtime_error {
 public:
  explicit ModelError(const std::string &message) : std::runtime_error(message) {}
};

// Per-particle results for the owned particles, in input order.
struct Outputs {
  std::vector<int64_t> label;          // class index
  std::vector<float> confidence;       // probability of the label given (the largest one unless
                                       // the isolated-crystal rule relabelled the particle liquid)
  std::vector<float> probabilities;    // row-major (n_owned, n_classes)
};

class Model {
 public:
  // Load a TorchScript model file onto "cpu" or "cuda"; reads the md_orderml metadata record.
  // Throws ModelError (missing, corrupted or foreign file, CUDA not available).
  Model(const std::string &path, const std::string &device);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  // Text of the md_orderml_metadata.json record ("" when the archive has none).
  const std::string &metadata_json() const;

  // Label the owned particles of n particles (owned and context), all boundaries open:
  // x (n, 3) row-major, types (n,) model type indices, owned (n,) 0/1.
  // Throws ModelError on failure (message of one line).
  void run(const double *x, const int64_t *types, const uint8_t *owned, int64_t n,
           double length_scale, Outputs &out);

  // Same with a periodic cell (rows = lattice vectors) and periodic flags.
  void run_periodic(const double *x, const int64_t *types, const uint8_t *owned, int64_t n,
                    const double cell[9], const bool pbc[3], double length_scale, Outputs &out);

  // Distance ghost particles must cover for exact labels of the given particles (the model's
  // exported ghost_reach: receptive field x the largest length unit of x; local-unit files only).
  // x (n, 3) row-major; cell rows = lattice vectors; throws ModelError.
  double ghost_reach(const double *x, int64_t n, const double cell[9], const bool pbc[3],
                     double length_scale);

  static bool cuda_available();
  static std::string torch_version();
  static void set_threads(int n);
  static int threads();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

}    // namespace orderml

#endif
