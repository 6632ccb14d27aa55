// Umbrella header of the tollgate C++ API.
#pragma once

#include "tollgate/error.hpp"
#include "tollgate/vocabulary.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/compiler.hpp"
#include "tollgate/tool_calls.hpp"
#include "tollgate/matcher.hpp"
#include "tollgate/batch.hpp"
