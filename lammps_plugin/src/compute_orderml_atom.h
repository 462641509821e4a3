/* compute ID group orderml/atom MODEL [mode auto|gather|ghost] [device cpu|cuda]
                                       [types T1 ... Tntypes] [threads N]

   Structure labels of md_orderml model files, computed in LAMMPS through libtorch.
   Per-atom array: c_ID[1] class index (-1 outside the group), c_ID[2] confidence,
   c_ID[3..2+C] class probabilities. Global vector (extensive, summed over ranks):
   c_ID[k] atoms of class k-1 (k = 1..C), c_ID[C+1] atoms labelled. */

#ifdef COMPUTE_CLASS
// clang-format off
ComputeStyle(orderml/atom,ComputeOrderMLAtom);
// clang-format on
#else

#ifndef LMP_COMPUTE_ORDERML_ATOM_H
#define LMP_COMPUTE_ORDERML_ATOM_H

#include "compute.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace orderml {
class Model;
struct Outputs;
}    // namespace orderml

namespace LAMMPS_NS {

class ComputeOrderMLAtom : public Compute {
 public:
  ComputeOrderMLAtom(class LAMMPS *, int, char **);
  ~ComputeOrderMLAtom() override;
  void init() override;
  void compute_peratom() override;
  void compute_vector() override;
  double memory_usage() override;

  static std::string default_model_path();

 private:
  std::unique_ptr<orderml::Model> model;
  std::unique_ptr<orderml::Outputs> outputs;
  std::string model_path;
  std::vector<std::string> class_names;
  std::vector<std::string> model_type_names;
  int nclasses;
  double cutoff;             // dimensionless neighbour cutoff
  double receptive_field;    // dimensionless
  bool use_ghosts;           // mode ghost; else owned atoms (+ a gathered halo under MPI) in the periodic box
  bool local_unit;           // model file in the local length unit (metadata length_unit)
  std::vector<int64_t> type_map;    // LAMMPS type -> model type index, -1 = not mapped
  int nmax;
  double **labels;    // per-atom array (nmax, 2 + nclasses)
  std::vector<double> local_counts;
  // model inputs, reused between calls
  std::vector<double> xbuf;
  std::vector<int64_t> tbuf;
  std::vector<uint8_t> obuf;
  std::vector<int> owner;    // local index of each owned input row
  // gathered halo (modes auto and gather under MPI): every rank's owned positions and types
  std::vector<double> xall;
  std::vector<int> tall, counts, displs;

  double length_scale() const;
  double reach_unit();
  void check_ghost_cutoff(double scale);
  void raise_ghost_cutoff();
  void check_periodic_box(double scale);
  bool periodic_box_fits(double scale) const;
  double gathered_box_unit(double unit);
  void box_widths(double widths[3]) const;
  void fractional(const double *x, double *s) const;
  int append_gathered_halo(double reach);
  void parse_metadata(const std::string &text);
  void map_types(const std::vector<std::string> &names);
};

}    // namespace LAMMPS_NS

#endif
#endif
