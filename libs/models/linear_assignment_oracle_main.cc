// Reads cost matrices as JSON lines {"rows": R, "cols": C, "cost": [...]}
// ("inf", "-inf", "nan" as strings) from stdin and writes one JSON line per
// matrix: {"pairs": [[r, c], ...]} or {"error": "infeasible" | "invalid"}.
// The oracle test feeds it the matrices it hands to scipy.

#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "libs/models/linear_assignment.h"
#include "rapidjson/document.h"

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseFullPrecisionFlag>(line.c_str());
    if (doc.HasParseError() || !doc.IsObject()) {
      std::cerr << "bad input line\n";
      return 2;
    }
    std::vector<double> cost;
    for (const auto& v : doc["cost"].GetArray()) {
      if (v.IsNumber()) {
        cost.push_back(v.GetDouble());
      } else {
        std::string s = v.GetString();
        cost.push_back(s == "inf"    ? std::numeric_limits<double>::infinity()
                       : s == "-inf" ? -std::numeric_limits<double>::infinity()
                                     : std::nan(""));
      }
    }
    auto pairs = cvt::SolveLinearAssignment(cost, doc["rows"].GetInt64(),
                                            doc["cols"].GetInt64());
    if (!pairs.ok()) {
      std::cout << "{\"error\": \""
                << (pairs.status().code() ==
                            absl::StatusCode::kFailedPrecondition
                        ? "infeasible"
                        : "invalid")
                << "\"}\n";
      continue;
    }
    std::cout << "{\"pairs\": [";
    for (size_t i = 0; i < pairs->size(); ++i) {
      std::cout << (i ? ", " : "") << "[" << (*pairs)[i].first << ", "
                << (*pairs)[i].second << "]";
    }
    std::cout << "]}\n";
  }
  return 0;
}
