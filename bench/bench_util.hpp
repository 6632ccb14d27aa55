// Shared helpers for the benchmark programs: data paths, percentiles.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tollgate::bench {

inline std::filesystem::path data_dir() {
  if (const char* v = std::getenv("TOLLGATE_DATA_DIR"); v && *v) return v;
  return std::filesystem::path(TOLLGATE_SOURCE_DIR) / ".." / "shared";
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// q in [0, 1]; sorts a copy.
inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace tollgate::bench
