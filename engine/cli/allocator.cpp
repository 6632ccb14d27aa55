// The command line's allocator settings (CMakeLists.txt links jemalloc when pkg-config finds it).
// Takes: nothing. Gives: jemalloc's compiled-in options, and release_free_memory() and
// use_own_arena() for the MaskBench runner's fresh worker processes.
#include <string>

#include "engine/cli/commands.hpp"

#if TOLLGATE_CLI_JEMALLOC
#include <jemalloc/jemalloc.h>

// Transparent huge pages for jemalloc's heap and metadata (where the kernel allows them on
// request, `madvise` mode): a compile's memory is touched for the first time in 2 MiB pages
// instead of 4 KiB ones. On the VMs we measure on a 4 KiB page fault costs 10-13 us, and a fresh
// process's compile and first mask took hundreds of them (docs/benchmarks.md, session 16).
// Freed pages are kept for reuse instead of going back to the kernel after jemalloc's default
// 10 s decay: a long-lived process (`bench maskbench --warm`, a server) frees and allocates again
// all the time (lexeme automata built and minimised, walk tables grown), and every page given back
// was a fault and a cleared page when taken again (4-5 % of a warm run's mask time; TBM avg -6 %,
// peak RSS +24 %, docs/benchmarks.md, session 26). Memory stays at the process's peak, which the
// Compiler's byte-bounded caches bound; the fresh workers of `--cold` still give theirs back
// before each fork (release_free_memory). MALLOC_CONF in the environment still overrides this.
extern "C" {
const char* malloc_conf = "thp:always,metadata_thp:always,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
#endif

namespace tollgate::cli {

void release_free_memory() {
#if TOLLGATE_CLI_JEMALLOC
  // Every arena's unused dirty pages go back to the kernel, so a forked child that reuses them
  // takes fresh pages rather than copy-on-write copies of the parent's.
  static_assert(MALLCTL_ARENAS_ALL == 4096, "the name below spells MALLCTL_ARENAS_ALL");
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
#endif
}

bool use_own_arena() {
#if TOLLGATE_CLI_JEMALLOC
  // A forked child allocating in its parent's arena takes free regions of the parent's partly used
  // slabs and writes jemalloc's metadata beside them: each first write to such a page is a
  // copy-on-write fault (a 4 KiB copy), which a process of its own never pays. A new arena's slabs
  // are the child's own pages; the thread's cache of the parent's free regions is flushed first.
  unsigned arena = 0;
  size_t len = sizeof arena;
  if (mallctl("arenas.create", &arena, &len, nullptr, 0) != 0) return false;
  if (mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0) != 0) return false;
  return mallctl("thread.arena", nullptr, nullptr, &arena, sizeof arena) == 0;
#else
  return false;
#endif
}

std::string allocator_name() {
  std::string name = TOLLGATE_CLI_ALLOCATOR;
#if TOLLGATE_CLI_JEMALLOC
  const char* thp = nullptr;
  size_t len = sizeof thp;
  if (mallctl("opt.thp", &thp, &len, nullptr, 0) == 0 && thp) name += std::string(" (thp: ") + thp + ")";
#endif
  return name;
}

}  // namespace tollgate::cli
