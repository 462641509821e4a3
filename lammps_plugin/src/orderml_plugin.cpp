/* LAMMPS plugin entry point: registers compute style orderml/atom.

   LAMMPS loads this file with "plugin load /path/to/ordermlplugin.so" or, automatically,
   from every directory listed in LAMMPS_PLUGIN_PATH (files whose name ends in plugin.so). */

#include "lammpsplugin.h"

#include "compute_orderml_atom.h"

using namespace LAMMPS_NS;

#ifndef ORDERML_LAMMPS_VERSION
#define ORDERML_LAMMPS_VERSION "unknown"
#endif
#ifndef ORDERML_VERSION
#define ORDERML_VERSION "unknown"
#endif

static Compute *orderml_atom_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new ComputeOrderMLAtom(lmp, argc, argv);
}

// The only exported symbol (the library is built with hidden visibility).
extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;

  plugin.version = ORDERML_LAMMPS_VERSION;
  plugin.style = "compute";
  plugin.name = "orderml/atom";
  plugin.info = "md_orderml structure labels compute style orderml/atom v" ORDERML_VERSION;
  plugin.author = "md_orderml developers";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &orderml_atom_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
