// tests/tools/json_mini.h — a strict little JSON parser for checking zsstat's output:
// rejects anything malformed, keeps object key order. Tests only.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace uzswap::testing {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;

  const JsonValue* find(const std::string& key) const {
    for (const auto& kv : object)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const JsonValue& at(const std::string& key) const {
    static const JsonValue kNull;
    const JsonValue* v = find(key);
    return v ? *v : kNull;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  // False on any syntax error or trailing garbage.
  bool parse(JsonValue* out) {
    ws();
    if (!value(out, 0)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool lit(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool str(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        if (e == 'u') {
          if (i_ + 4 > s_.size()) return false;
          out->push_back(static_cast<char>(strtol(s_.substr(i_, 4).c_str(), nullptr, 16)));
          i_ += 4;
        } else if (e == 'n') {
          out->push_back('\n');
        } else if (e == '"' || e == '\\' || e == '/') {
          out->push_back(e);
        } else {
          return false;
        }
      } else {
        out->push_back(c);
      }
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  bool value(JsonValue* v, int depth) {
    if (depth > 32 || i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      v->kind = JsonValue::Kind::Object;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
      for (;;) {
        std::pair<std::string, JsonValue> kv;
        ws();
        if (!str(&kv.first)) return false;
        ws();
        if (!lit(":")) return false;
        ws();
        if (!value(&kv.second, depth + 1)) return false;
        v->object.push_back(std::move(kv));
        ws();
        if (lit("}")) return true;
        if (!lit(",")) return false;
      }
    }
    if (c == '[') {
      v->kind = JsonValue::Kind::Array;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      for (;;) {
        v->array.emplace_back();
        ws();
        if (!value(&v->array.back(), depth + 1)) return false;
        ws();
        if (lit("]")) return true;
        if (!lit(",")) return false;
      }
    }
    if (c == '"') {
      v->kind = JsonValue::Kind::String;
      return str(&v->string);
    }
    if (lit("true")) return v->kind = JsonValue::Kind::Bool, v->boolean = true, true;
    if (lit("false")) return v->kind = JsonValue::Kind::Bool, true;
    if (lit("null")) return true;
    const char* start = s_.c_str() + i_;
    char* end = nullptr;
    v->number = strtod(start, &end);
    if (end == start) return false;
    v->kind = JsonValue::Kind::Number;
    i_ += static_cast<size_t>(end - start);
    return true;
  }

  const std::string& s_;
  size_t i_ = 0;
};

// Key paths of a document ("a.b", "a[].c"); objects under `maps` (paths whose keys are
// data, e.g. counter names) contribute "path.*" instead of their keys.
inline void json_key_paths(const JsonValue& v, const std::string& path, const std::set<std::string>& maps,
                           std::set<std::string>* out) {
  if (v.kind == JsonValue::Kind::Object) {
    for (const auto& kv : v.object) {
      std::string child = maps.count(path) ? path + ".*" : (path.empty() ? kv.first : path + "." + kv.first);
      out->insert(child);
      json_key_paths(kv.second, child, maps, out);
    }
  } else if (v.kind == JsonValue::Kind::Array) {
    for (const JsonValue& e : v.array) json_key_paths(e, path + "[]", maps, out);
  }
}

}  // namespace uzswap::testing
