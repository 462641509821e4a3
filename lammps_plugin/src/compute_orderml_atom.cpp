/* compute orderml/atom: md_orderml structure labels inside LAMMPS (native plugin).

   Conventions shared with the Python fix (md_orderml/engines/lammps/compute.py) and the
   model file (md_orderml/model_file.py):
   - lengths are made dimensionless by length_scale = (V / N_total)^(1/3); the receptive
     field and cutoff reach that far times the "reach unit": the length scale, or for
     local-unit model files the largest local length unit of the atoms (ghost_reach);
   - "mode auto" (the default) and "mode gather": each rank passes its owned atoms (the
     group's labelled), then a halo of other ranks' atoms, with the periodic box and its
     pbc flags, as the Python fix and "md-orderml label" do. On one rank the halo is empty;
     under MPI every labelling all-gathers every rank's owned positions (as LAMMPS holds
     them, relative to the same box) and types and keeps those that can lie within
     receptive_field * reach unit of this rank's owned atoms (md_orderml/engines/halo.py:
     halo_mask, fractional coordinates with periodic images, a superset; the model cuts
     exactly). The ghost cutoff is never changed: ghosts as deep as the receptive field of
     the local-unit default (about 10 length units) would slow every MD step;
   - "mode ghost": each rank labels its owned atoms of the group with all local and ghost
     atoms within the receptive field as context and all boundaries open, so the ghost
     cutoff must reach receptive_field * reach unit + neighbor skin: init() raises the user
     ghost cutoff (comm->cutghostuser, what 'comm_modify cutoff' sets) to that plus
     GHOST_MARGIN of headroom before each run builds its ghosts; a labelling step whose
     ghosts fall short (the box grew, or the largest local unit did, as it does when a
     crystal melts) is an error. For runs too large to gather. */

#include "compute_orderml_atom.h"

#include "orderml_model.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "json.h"
#include "memory.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>

using namespace LAMMPS_NS;

#ifndef ORDERML_DEFAULT_MODEL
#define ORDERML_DEFAULT_MODEL ""
#endif

static const char *FORMAT_NAME = "md_orderml-model";
static const int FORMAT_VERSION = 3;    // 1: classification; 3: classification, local length unit
// relative headroom of the ghost cutoff (mode ghost) for a box or local unit that grows during
// a run (as the Python fix)
static const double GHOST_MARGIN = 0.1;

/* ---------------------------------------------------------------------- */

// "default": MD_ORDERML_DEFAULT_MODEL (the lammps.plugins entry point sets it), else the
// package's models/default.pt next to an install-time module
// (md_orderml/lammps_plugin_prebuilt/ordermlplugin.so), else the path baked in by a
// first-use build; empty when none is known.
std::string ComputeOrderMLAtom::default_model_path()
{
  const char *env = std::getenv("MD_ORDERML_DEFAULT_MODEL");
  if (env && *env) return env;
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&ComputeOrderMLAtom::default_model_path), &info) && info.dli_fname) {
    std::string module = info.dli_fname;
    std::size_t slash = module.rfind('/');
    std::string dir = slash == std::string::npos ? std::string(".") : module.substr(0, slash);
    std::string candidate = dir + "/../models/default.pt";
    if (std::ifstream(candidate).good()) return candidate;
  }
  return ORDERML_DEFAULT_MODEL;
}

/* ---------------------------------------------------------------------- */

ComputeOrderMLAtom::ComputeOrderMLAtom(LAMMPS *lmp, int narg, char **arg) :
    Compute(lmp, narg, arg), outputs(new orderml::Outputs), nclasses(0), cutoff(0.0),
    receptive_field(0.0), use_ghosts(false), local_unit(false), nmax(0), labels(nullptr)
{
  if (narg < 4)
    error->all(FLERR, "Illegal compute orderml/atom command: compute ID group orderml/atom "
                      "MODEL [mode auto|gather|ghost] [device cpu|cuda] [types T1 ... Tn] [threads N]");
  if (domain->dimension != 3)
    error->all(FLERR, "Compute orderml/atom supports 3d simulations only");

  model_path = arg[3];
  if (model_path == "default") {
    model_path = default_model_path();
    if (model_path.empty())
      error->all(FLERR, "Compute orderml/atom: no default model known to this plugin build; "
                        "give the model file path or set MD_ORDERML_DEFAULT_MODEL");
  }

  std::string device = "cpu", mode = "auto";
  std::vector<std::string> type_args;
  int threads = comm->nthreads;    // LAMMPS's OpenMP threads per rank (1 unless set)
  int iarg = 4;
  while (iarg < narg) {
    std::string key = arg[iarg];
    if (key == "device") {
      if (iarg + 2 > narg) error->all(FLERR, "Compute orderml/atom: device needs cpu or cuda");
      device = arg[iarg + 1];
      if (device != "cpu" && device != "cuda")
        error->all(FLERR, "Compute orderml/atom: unknown device {} (cpu or cuda)", device);
      iarg += 2;
    } else if (key == "mode") {
      if (iarg + 2 > narg)
        error->all(FLERR, "Compute orderml/atom: mode needs auto, gather or ghost");
      mode = arg[iarg + 1];
      if (mode != "auto" && mode != "gather" && mode != "ghost")
        error->all(FLERR, "Compute orderml/atom: unknown mode {} (auto, gather or ghost)", mode);
      iarg += 2;
    } else if (key == "types") {
      if (iarg + 1 + atom->ntypes > narg)
        error->all(FLERR, "Compute orderml/atom: types needs one model type name (or NULL) "
                          "per LAMMPS atom type ({} names)", atom->ntypes);
      for (int t = 0; t < atom->ntypes; ++t) type_args.emplace_back(arg[iarg + 1 + t]);
      iarg += 1 + atom->ntypes;
    } else if (key == "threads") {
      if (iarg + 2 > narg) error->all(FLERR, "Compute orderml/atom: threads needs a number");
      threads = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (threads < 1) error->all(FLERR, "Compute orderml/atom: threads must be positive");
      iarg += 2;
    } else {
      error->all(FLERR, "Compute orderml/atom: unknown keyword {} (mode, device, types, threads)",
                 key);
    }
  }
  use_ghosts = mode == "ghost";    // auto and gather: the same path (a halo gathered under MPI)

  try {
    model = std::make_unique<orderml::Model>(model_path, device);
  } catch (const orderml::ModelError &err) {
    error->all(FLERR, "Compute orderml/atom: {}", err.what());
  }
  parse_metadata(model->metadata_json());
  map_types(type_args);
  orderml::Model::set_threads(threads);

  peratom_flag = 1;
  size_peratom_cols = 2 + nclasses;
  vector_flag = 1;
  size_vector = nclasses + 1;
  extvector = 1;
  vector = new double[size_vector];
  std::fill(vector, vector + size_vector, 0.0);
  local_counts.assign(size_vector, 0.0);

  if (comm->me == 0) {
    std::string names;
    for (const auto &name : class_names) names += " " + name;
    utils::logmesg(lmp,
                   "compute orderml/atom: model {} ({} classes:{}), receptive field {} x length "
                   "scale, {} on {}, {} torch thread(s), context from {}\n",
                   model_path, nclasses, names, receptive_field,
                   orderml::Model::torch_version(), device, orderml::Model::threads(),
                   use_ghosts         ? "ghost atoms"
                       : comm->nprocs > 1 ? "the periodic box and a halo gathered from all ranks"
                                          : "the periodic box");
  }
}

/* ---------------------------------------------------------------------- */

ComputeOrderMLAtom::~ComputeOrderMLAtom()
{
  memory->destroy(labels);
  delete[] vector;
}

/* ---------------------------------------------------------------------- */

void ComputeOrderMLAtom::parse_metadata(const std::string &text)
{
  if (text.empty())
    error->all(FLERR, "Compute orderml/atom: {}: not an md_orderml model file (a TorchScript "
                      "archive without md_orderml metadata)", model_path);
  json meta;
  try {
    meta = json::parse(text);
  } catch (const std::exception &err) {
    error->all(FLERR, "Compute orderml/atom: {}: corrupted model metadata ({})", model_path,
               err.what());
  }
  if (!meta.is_object() || !meta.contains("format") || !meta["format"].is_string() ||
      meta["format"].get<std::string>() != FORMAT_NAME)
    error->all(FLERR, "Compute orderml/atom: {}: not an md_orderml model file (metadata format "
                      "is not '{}')", model_path, FORMAT_NAME);
  if (!meta.contains("format_version") || !meta["format_version"].is_number_integer())
    error->all(FLERR, "Compute orderml/atom: {}: corrupted model metadata (format_version)",
               model_path);
  int version = meta["format_version"].get<int>();
  if (version == 2)
    error->all(FLERR, "Compute orderml/atom: {}: a regression model file; this compute runs "
                      "classification models (the Python fix, md-orderml lammps, runs regression "
                      "models)", model_path);
  if (version > FORMAT_VERSION)
    error->all(FLERR, "Compute orderml/atom: {}: model file format {} is newer than this plugin "
                      "supports ({}); rebuild the plugin from a newer md_orderml", model_path,
               version, FORMAT_VERSION);
  if (meta.contains("dimensions") &&
      !(meta["dimensions"].is_number_integer() && meta["dimensions"].get<int>() == 3))
    error->all(FLERR, "Compute orderml/atom: {}: a model of {}d systems; this compute labels 3d "
                      "simulations with 3d models only (the Python compute, md-orderml lammps, "
                      "runs 2d models)", model_path, meta["dimensions"].dump());
  try {
    for (const auto &name : meta.at("class_names")) class_names.push_back(name.get<std::string>());
    cutoff = meta.at("cutoff").get<double>();
    receptive_field = meta.at("receptive_field").get<double>();
    local_unit = meta.contains("length_unit") && meta["length_unit"].get<std::string>() == "local";
    if (meta.contains("type_names"))
      for (const auto &name : meta["type_names"]) model_type_names.push_back(name.get<std::string>());
  } catch (const std::exception &err) {
    error->all(FLERR, "Compute orderml/atom: {}: corrupted model metadata ({})", model_path,
               err.what());
  }
  nclasses = (int) class_names.size();
  if (nclasses < 1 || !(receptive_field > 0.0) || !(cutoff > 0.0))
    error->all(FLERR, "Compute orderml/atom: {}: corrupted model metadata (no classes or "
                      "non-positive cutoff)", model_path);
}

/* ---------------------------------------------------------------------- */

void ComputeOrderMLAtom::map_types(const std::vector<std::string> &names)
{
  const int ntypes = atom->ntypes;
  type_map.assign(ntypes + 1, -1);
  if (model_type_names.empty()) {    // type-agnostic model: every type is model type 0
    std::fill(type_map.begin(), type_map.end(), 0);
    if (!names.empty() && comm->me == 0)
      error->warning(FLERR, "Compute orderml/atom: the model is type-agnostic; types ignored");
    return;
  }
  std::string known;
  for (const auto &n : model_type_names) known += " " + n;
  for (int t = 1; t <= ntypes; ++t) {
    // without "types", LAMMPS type t is the model type named "t" (as in the Python compute)
    std::string name = names.empty() ? std::to_string(t) : names[t - 1];
    if (name == "NULL") continue;
    auto found = std::find(model_type_names.begin(), model_type_names.end(), name);
    if (found != model_type_names.end()) {
      type_map[t] = found - model_type_names.begin();
    } else if (names.empty()) {
      error->all(FLERR, "Compute orderml/atom: LAMMPS atom type {} is not mapped to a model type "
                        "(model types:{}); add 'types' with one model type name per LAMMPS type",
                 t, known);
    } else {
      error->all(FLERR, "Compute orderml/atom: type {} given for LAMMPS atom type {} is not a "
                        "model type (model types:{})", name, t, known);
    }
  }
}

/* ---------------------------------------------------------------------- */

void ComputeOrderMLAtom::init()
{
  if (comm->mode != Comm::SINGLE && use_ghosts)
    error->all(FLERR, "Compute orderml/atom requires comm_modify mode single");
  if (use_ghosts) raise_ghost_cutoff();
}

/* ----------------------------------------------------------------------
   LAMMPS calls init() of every compute (Modify::init) before a run sets up its
   communication (Verlet::setup -> Comm::setup -> Comm::get_comm_cutoff, which takes
   max(cutghostuser, neighbor cutoff)), and again before every later run; so raising
   cutghostuser here is what 'comm_modify cutoff' would do, for this run's box. A user's
   larger cutoff is kept.
------------------------------------------------------------------------- */

void ComputeOrderMLAtom::raise_ghost_cutoff()
{
  if (atom->natoms <= 0) return;
  const double scale = reach_unit();
  const double want = receptive_field * scale * (1.0 + GHOST_MARGIN) + neighbor->skin;
  if (comm->cutghostuser >= want) return;
  comm->cutghostuser = want;
  if (comm->me == 0)
    utils::logmesg(lmp, "Compute orderml/atom: ghost cutoff set to {:.6g} = receptive field {} x length scale "
                        "{:.6g} x {} + neighbor skin {:.6g} (as 'comm_modify cutoff')\n",
                   want, receptive_field, scale, 1.0 + GHOST_MARGIN, neighbor->skin);
}

/* ---------------------------------------------------------------------- */

double ComputeOrderMLAtom::length_scale() const
{
  return std::cbrt(domain->xprd * domain->yprd * domain->zprd / (double) atom->natoms);
}

/* ----------------------------------------------------------------------
   the length by which the dimensionless receptive field and cutoff reach: the global
   length scale, or for local-unit model files the largest local unit of the atoms
   (the model's ghost_reach over its receptive field; owned atoms of every rank, the
   periodic box with one rank outside mode ghost, open boundaries otherwise, where a
   domain face can only make a unit larger: a deeper halo or ghost layer, never a
   shallower one), the same on every rank (as md_orderml.engines.halo.reach_unit)
------------------------------------------------------------------------- */

double ComputeOrderMLAtom::reach_unit()
{
  const double scale = length_scale();
  if (!local_unit) return scale;
  const int nlocal = atom->nlocal;
  std::vector<double> xs((size_t) 3 * nlocal);
  for (int i = 0; i < nlocal; ++i)
    for (int d = 0; d < 3; ++d) xs[3 * i + d] = atom->x[i][d];
  const double *h = domain->h;
  double cell[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  bool pbc[3] = {false, false, false};
  if (!use_ghosts && comm->nprocs == 1) {
    const double box[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
    std::copy(box, box + 9, cell);
    pbc[0] = domain->xperiodic != 0;
    pbc[1] = domain->yperiodic != 0;
    pbc[2] = domain->zperiodic != 0;
  }
  double unit = 0.0;
  if (nlocal > 0) {
    try {
      unit = model->ghost_reach(xs.data(), nlocal, cell, pbc, scale) / receptive_field;
    } catch (const orderml::ModelError &err) {
      error->one(FLERR, "Compute orderml/atom: {}", err.what());
    }
  }
  double all = 0.0;
  MPI_Allreduce(&unit, &all, 1, MPI_DOUBLE, MPI_MAX, world);
  return all;
}

/* ----------------------------------------------------------------------
   ghosts must cover the receptive field of every owned atom; atoms move up to
   skin/2 between neighbor list builds, hence the skin
------------------------------------------------------------------------- */

void ComputeOrderMLAtom::check_ghost_cutoff(double scale)
{
  const double reach = std::max(comm->cutghostuser, neighbor->cutneighmax);
  const double need = receptive_field * scale + neighbor->skin;
  if (reach < need) {
    const double suggest = std::ceil((1.1 * receptive_field * scale + neighbor->skin) * 100.0) / 100.0;
    const char *grown = local_unit
        ? "the box or the atoms' largest local length unit (it fluctuates far above a lattice's "
          "in a liquid) has grown more since"
        : "the box has grown more since";
    error->all(FLERR, "Compute orderml/atom: ghost atoms reach {:.6g} but the model needs "
                      "receptive field {} x length scale {:.6g} + neighbor skin {:.6g} = {:.6g} "
                      "(mode ghost sets the ghost cutoff when a run starts, with {}% headroom; {}): "
                      "add 'comm_modify cutoff {:.6g}' before the run, run in shorter segments, or "
                      "use mode auto (a halo gathered from all ranks, no ghost cutoff)",
               reach, receptive_field, scale, neighbor->skin, need, 100.0 * GHOST_MARGIN, grown,
               suggest);
  }
}

/* ----------------------------------------------------------------------
   perpendicular distances between opposite faces of the box (Box.widths)
------------------------------------------------------------------------- */

void ComputeOrderMLAtom::box_widths(double widths[3]) const
{
  const double *h = domain->h;    // xprd, yprd, zprd, yz, xz, xy
  const double a[3] = {h[0], 0.0, 0.0}, b[3] = {h[5], h[1], 0.0}, c[3] = {h[4], h[3], h[2]};
  auto cross_norm = [](const double *u, const double *v) {
    const double w[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                         u[0] * v[1] - u[1] * v[0]};
    return std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
  };
  const double volume = h[0] * h[1] * h[2];
  widths[0] = volume / cross_norm(b, c);
  widths[1] = volume / cross_norm(c, a);
  widths[2] = volume / cross_norm(a, b);
}

/* ----------------------------------------------------------------------
   fractional coordinates of x relative to the box corner (Box.fractional, LAMMPS's
   x2lamda): x - boxlo = s0 a + s1 b + s2 c with a = (xprd, 0, 0), b = (xy, yprd, 0),
   c = (xz, yz, zprd)
------------------------------------------------------------------------- */

void ComputeOrderMLAtom::fractional(const double *x, double *s) const
{
  const double *h = domain->h;
  const double *lo = domain->boxlo;
  s[2] = (x[2] - lo[2]) / h[2];
  s[1] = (x[1] - lo[1] - s[2] * h[3]) / h[1];
  s[0] = (x[0] - lo[0] - s[1] * h[5] - s[2] * h[4]) / h[0];
}

/* ----------------------------------------------------------------------
   the periodic neighbour search of the model needs widths of twice its cutoff
------------------------------------------------------------------------- */

bool ComputeOrderMLAtom::periodic_box_fits(double scale) const
{
  double widths[3];
  box_widths(widths);
  const int periodic[3] = {domain->xperiodic, domain->yperiodic, domain->zperiodic};
  for (int d = 0; d < 3; ++d)
    if (periodic[d] && widths[d] < 2.0 * cutoff * scale) return false;
  return true;
}

void ComputeOrderMLAtom::check_periodic_box(double scale)
{
  double widths[3];
  box_widths(widths);
  const int periodic[3] = {domain->xperiodic, domain->yperiodic, domain->zperiodic};
  const double need = 2.0 * cutoff * scale;
  for (int d = 0; d < 3; ++d)
    if (periodic[d] && widths[d] < need)
      error->all(FLERR, "Compute orderml/atom: the periodic box is too small for the model: width "
                        "{:.6g} along {} < 2 x cutoff = {:.6g}; replicate the system",
                 widths[d], "xyz"[d], need);
}

/* ----------------------------------------------------------------------
   a gathered halo under MPI (collective): the unit of the box check. The reach unit comes
   from each rank's owned atoms with open boundaries, where atoms at a domain face get a
   larger local unit than they have; when that fails the check of a small box, the model's
   ghost_reach on what this rank passes (owned atoms and halo, in the periodic box; in a box
   small enough to fail, the halo is all or most of the system) decides, as serially.
------------------------------------------------------------------------- */

double ComputeOrderMLAtom::gathered_box_unit(double unit)
{
  if (!local_unit || periodic_box_fits(unit)) return unit;
  const double *h = domain->h;
  const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  const bool pbc[3] = {domain->xperiodic != 0, domain->yperiodic != 0, domain->zperiodic != 0};
  double mine = 0.0;
  const int64_t n = (int64_t) tbuf.size();
  if (n > 0) {
    try {
      mine = model->ghost_reach(xbuf.data(), n, cell, pbc, length_scale()) / receptive_field;
    } catch (const orderml::ModelError &err) {
      error->one(FLERR, "Compute orderml/atom: {}", err.what());
    }
  }
  double all = 0.0;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, world);
  return all;
}

/* ----------------------------------------------------------------------
   np.mod(a, 1.0): in [0, 1), the sign of the divisor
------------------------------------------------------------------------- */

static double mod1(double a)
{
  double m = std::fmod(a, 1.0);
  if (m < 0.0) m += 1.0;
  return m;
}

/* ----------------------------------------------------------------------
   modes auto and gather under MPI (collective): append to the model inputs, after this
   rank's owned atoms (the first nlocal rows of xbuf), every other rank's owned atoms that
   can lie within 'reach' of them. All ranks' positions (as LAMMPS holds owned x, all in
   the same box, which the model gets with its pbc flags) and types are all-gathered; the
   selection is md_orderml.engines.halo.halo_mask: per lattice direction the owned atoms'
   fractional range (the shortest periodic arc in a periodic direction, the plain range
   otherwise) widened by reach / perpendicular width, so a superset of the atoms within
   Euclidean distance 'reach' of some owned atom; the model cuts exactly.
   Returns the largest LAMMPS type of a kept atom that maps to no model type (0: none).
------------------------------------------------------------------------- */

int ComputeOrderMLAtom::append_gathered_halo(double reach)
{
  const int nprocs = comm->nprocs, me = comm->me;
  const int nlocal = atom->nlocal;
  counts.assign(nprocs, 0);
  MPI_Allgather(&nlocal, 1, MPI_INT, counts.data(), 1, MPI_INT, world);
  displs.assign(nprocs, 0);
  std::vector<int> counts3(nprocs), displs3(nprocs);
  bigint total = 0;
  for (int r = 0; r < nprocs; ++r) {
    displs[r] = (int) total;
    counts3[r] = 3 * counts[r];
    displs3[r] = 3 * displs[r];
    total += counts[r];
  }
  xall.resize((size_t) 3 * total);
  tall.resize((size_t) total);
  MPI_Allgatherv(xbuf.data(), 3 * nlocal, MPI_DOUBLE, xall.data(), counts3.data(), displs3.data(),
                 MPI_DOUBLE, world);
  MPI_Allgatherv(atom->type, nlocal, MPI_INT, tall.data(), counts.data(), displs.data(), MPI_INT,
                 world);
  if (nlocal == 0) return 0;

  const bool periodic[3] = {domain->xperiodic != 0, domain->yperiodic != 0,
                            domain->zperiodic != 0};
  double widths[3];
  box_widths(widths);
  // the owned atoms' window per direction: start and span (periodic), or lo and hi
  double start[3], span[3], lo[3], hi[3];
  bool cut[3];
  std::vector<double> s_own((size_t) 3 * nlocal);
  for (int i = 0; i < nlocal; ++i) fractional(&xbuf[3 * i], &s_own[3 * i]);
  std::vector<double> v(nlocal);
  for (int d = 0; d < 3; ++d) {
    const double r = reach / widths[d];
    if (periodic[d]) {
      // halo._arc: the shortest interval [a, b] (b may exceed 1) covering the periodic values
      for (int i = 0; i < nlocal; ++i) v[i] = mod1(s_own[3 * i + d]);
      std::sort(v.begin(), v.end());
      int g = 0;
      double widest = -1.0;
      for (int i = 0; i < nlocal; ++i) {
        const double gap = (i + 1 < nlocal ? v[i + 1] : v[0] + 1.0) - v[i];
        if (gap > widest) {    // the first largest gap, as np.argmax
          widest = gap;
          g = i;
        }
      }
      const double a = g == nlocal - 1 ? v[0] : v[g + 1];
      const double b = g == nlocal - 1 ? v[nlocal - 1] : v[g] + 1.0;
      start[d] = a - r;
      span[d] = b - a + 2.0 * r;
      cut[d] = span[d] < 1.0;
    } else {
      lo[d] = s_own[d];
      hi[d] = s_own[d];
      for (int i = 1; i < nlocal; ++i) {
        lo[d] = std::min(lo[d], s_own[3 * i + d]);
        hi[d] = std::max(hi[d], s_own[3 * i + d]);
      }
      lo[d] -= r;
      hi[d] += r;
      cut[d] = true;
    }
  }

  int bad_type = 0;
  for (int rank = 0; rank < nprocs; ++rank) {
    if (rank == me) continue;
    for (int j = displs[rank]; j < displs[rank] + counts[rank]; ++j) {
      const double *xj = &xall[3 * (size_t) j];
      double s[3];
      fractional(xj, s);
      bool keep = true;
      for (int d = 0; d < 3 && keep; ++d) {
        if (!cut[d]) continue;
        if (periodic[d])
          keep = mod1(s[d] - start[d]) <= span[d];
        else
          keep = s[d] >= lo[d] && s[d] <= hi[d];
      }
      if (!keep) continue;
      const int64_t mtype = type_map[tall[j]];
      if (mtype < 0) bad_type = std::max(bad_type, tall[j]);
      xbuf.insert(xbuf.end(), xj, xj + 3);
      tbuf.push_back(mtype);
      obuf.push_back(0);
    }
  }
  return bad_type;
}

/* ---------------------------------------------------------------------- */

void ComputeOrderMLAtom::compute_peratom()
{
  if (invoked_peratom == update->ntimestep) return;    // already labelled on this step

  if (atom->nmax > nmax) {
    memory->destroy(labels);
    nmax = atom->nmax;
    memory->create(labels, nmax, 2 + nclasses, "orderml/atom:labels");
    array_atom = labels;
  }
  const int nlocal = atom->nlocal;
  const int ncols = 2 + nclasses;
  for (int i = 0; i < nlocal; ++i) {
    labels[i][0] = -1.0;
    std::fill(labels[i] + 1, labels[i] + ncols, 0.0);
  }
  std::fill(local_counts.begin(), local_counts.end(), 0.0);

  if (atom->natoms > 0) {
    const double scale = length_scale();    // the model's length_scale argument
    const double unit = reach_unit();       // what its receptive field and cutoff are multiplied by
    const bool gathering = !use_ghosts && comm->nprocs > 1;    // modes auto and gather
    if (use_ghosts)
      check_ghost_cutoff(unit);
    else if (!gathering)
      check_periodic_box(unit);

    double **x = atom->x;
    const int *mask = atom->mask;
    const int *type = atom->type;
    const int nall = nlocal + (use_ghosts ? atom->nghost : 0);

    // owned atoms of the group and their bounding box
    owner.clear();
    double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int i = 0; i < nlocal; ++i) {
      if (!(mask[i] & groupbit)) continue;
      if (owner.empty())
        for (int d = 0; d < 3; ++d) lo[d] = hi[d] = x[i][d];
      for (int d = 0; d < 3; ++d) {
        lo[d] = std::min(lo[d], x[i][d]);
        hi[d] = std::max(hi[d], x[i][d]);
      }
      owner.push_back(i);
    }

    // context: local atoms (and ghosts) within the receptive field of that box; outside
    // mode ghost all owned atoms, then under MPI the gathered halo
    const double reach = use_ghosts ? receptive_field * unit * (1.0 + 1e-4) : INFINITY;
    xbuf.clear();
    tbuf.clear();
    obuf.clear();
    int bad_type = 0;
    if (!owner.empty() || gathering) {
      for (int i = 0; i < nall; ++i) {
        bool inside = true;
        for (int d = 0; d < 3; ++d)
          inside = inside && x[i][d] >= lo[d] - reach && x[i][d] <= hi[d] + reach;
        if (!inside) continue;
        const int64_t mtype = type_map[type[i]];
        if (mtype < 0) bad_type = std::max(bad_type, type[i]);
        xbuf.insert(xbuf.end(), x[i], x[i] + 3);
        tbuf.push_back(mtype);
        obuf.push_back(i < nlocal && (mask[i] & groupbit) ? 1 : 0);
      }
    }
    if (gathering) {    // collective: every rank, group atoms or not
      const int halo_bad = append_gathered_halo(receptive_field * unit);
      check_periodic_box(gathered_box_unit(unit));
      if (owner.empty()) {    // a rank without group atoms runs no model
        xbuf.clear();
        tbuf.clear();
        obuf.clear();
        bad_type = 0;
      } else {
        bad_type = std::max(bad_type, halo_bad);
      }
    }
    int any_bad = 0;
    MPI_Allreduce(&bad_type, &any_bad, 1, MPI_INT, MPI_MAX, world);
    if (any_bad)
      error->all(FLERR, "Compute orderml/atom: atoms of LAMMPS type {} (mapped to NULL) are "
                        "within the receptive field of labelled atoms; map the type to a model type",
                 any_bad);

    if (!owner.empty()) {
      try {
        const int64_t n = (int64_t) tbuf.size();
        if (use_ghosts) {
          model->run(xbuf.data(), tbuf.data(), obuf.data(), n, scale, *outputs);
        } else {
          const double *h = domain->h;
          const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
          const bool pbc[3] = {domain->xperiodic != 0, domain->yperiodic != 0,
                               domain->zperiodic != 0};
          model->run_periodic(xbuf.data(), tbuf.data(), obuf.data(), n, cell, pbc, scale,
                              *outputs);
        }
      } catch (const orderml::ModelError &err) {
        error->one(FLERR, "Compute orderml/atom: {}", err.what());
      }
      if (outputs->label.size() != owner.size() ||
          outputs->probabilities.size() != owner.size() * (size_t) nclasses)
        error->one(FLERR, "Compute orderml/atom: the model returned {} labels for {} atoms; "
                          "is {} an md_orderml model file?", outputs->label.size(), owner.size(),
                   model_path);
      for (size_t k = 0; k < owner.size(); ++k) {
        double *row = labels[owner[k]];
        const int64_t label = outputs->label[k];
        row[0] = (double) label;
        row[1] = outputs->confidence[k];
        for (int c = 0; c < nclasses; ++c) row[2 + c] = outputs->probabilities[k * nclasses + c];
        if (label >= 0 && label < nclasses) local_counts[label] += 1.0;
      }
      local_counts[nclasses] = (double) owner.size();
    }
  }
  MPI_Allreduce(local_counts.data(), vector, size_vector, MPI_DOUBLE, MPI_SUM, world);
  invoked_peratom = update->ntimestep;
}

/* ---------------------------------------------------------------------- */

void ComputeOrderMLAtom::compute_vector()
{
  invoked_vector = update->ntimestep;
  compute_peratom();    // labels once per step; also sums the counts over ranks
}

/* ---------------------------------------------------------------------- */

double ComputeOrderMLAtom::memory_usage()
{
  return (double) nmax * (2 + nclasses) * sizeof(double) +
      (double) xbuf.capacity() * sizeof(double) + (double) tbuf.capacity() * sizeof(int64_t) +
      (double) xall.capacity() * sizeof(double) + (double) tall.capacity() * sizeof(int);
}
