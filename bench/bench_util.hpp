// Shared helpers for the benchmark programs: data paths, percentiles.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/data_dir.hpp"

namespace tollgate::bench {

// TOLLGATE_DATA_DIR, else ../shared, else the user cache (engine/data_dir.hpp).
inline std::filesystem::path data_dir() {
  return data::find_data_dir(TOLLGATE_DEFAULT_DATA_DIR).value_or(TOLLGATE_DEFAULT_DATA_DIR);
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
