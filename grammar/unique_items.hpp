// The uniqueItems plan of a JSON Schema: which arrays of a document must hold distinct items,
// decided by the path from the root, and what their items look like; with property_order 'any',
// also which keys an object there must hold (enforced at run time rather than by the grammar).
// Takes: nothing (grammar/json_schema.cpp fills it from the schema). Gives: an automaton over
// path steps (a property name, any other key, an array index) whose states say whether an array
// there is unique-constrained and, if so, the shape of its items, and the keys an object there
// requires; the context-free back-end's tracker (engine/unique_tracker.hpp) follows it over the
// emitted bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tollgate::grammar {

struct UniquePlan {
  // What an item of a unique array may be, as far as uniqueness needs to know: which partial
  // items have finitely many completions (the tracker checks those for dead ends).
  //  kOpen: every partial item has infinitely many distinct completions except a partial literal
  //    (`t`, `fal`, `nul`: one completion each) and some partial numbers (`0e`, `-0`: the tracker
  //    asks the grammar); strings are free, objects take any extra key, arrays and numbers have no
  //    constraints.
  //  kListed: the items are among `listed` (scalars: strings, booleans, null), and the array needs
  //    at most one item (minItems <= 1), so only the item being written can run out of values.
  //  Where minItems requires items after a kListed one, those are kOpen (so that only the item
  //  being written can run out of values).
  enum class Items : uint8_t { kOpen, kListed };
  struct ItemShape {
    Items items = Items::kOpen;
    // kListed: the values (strings decoded; the tracker writes them as json.dumps does).
    std::vector<std::string> listed_strings;
    bool listed_true = false, listed_false = false, listed_null = false;
    bool operator==(const ItemShape&) const = default;
  };
  struct State {
    bool unique = false;
    // An object here must hold these keys (sorted; decoded), whichever alternative it matches: the
    // tracker refuses the '}' that would close it without them (the grammar leaves them out).
    std::vector<std::string> required;
    std::vector<ItemShape> shapes;  // unique: the items at the prefix indexes (prefixItems) ...
    ItemShape tail;                 // ... and every later one
    const ItemShape& shape(size_t index) const { return index < shapes.size() ? shapes[index] : tail; }
    // Steps (0: the free state, where nothing below is unique).
    std::map<std::string, uint32_t> keys;  // named members
    uint32_t other_keys = 0;               // any other key
    std::vector<uint32_t> index;           // items at these indexes (prefixItems)
    uint32_t items_state = 0;              // every later item
  };
  std::vector<State> states;  // states[0]: free; states[1]: the document's root value
  bool empty() const { return states.size() <= 1; }
  // Some state lists required keys (set with the states, by whoever fills them).
  bool keys = false;
  // The layout may commit to an object's '}' before writing it (pretty's newline after a member, a
  // space before a separator that begins with ','): where an object lacks required keys, the tracker
  // then asks the grammar, after each of its values, whether a ',' can still come.
  bool layout_commits = false;
};

}  // namespace tollgate::grammar
