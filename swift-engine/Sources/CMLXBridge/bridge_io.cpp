// safetensors files: lazy loading and saving with metadata.
#include <stdexcept>

#include "bridge_internal.hpp"

namespace mx = mlx::core;

using mlxb::guarded;

struct mlxb_tensor_file_s {
  std::vector<std::string> names;
  std::vector<mx::array> arrays;
  std::vector<std::string> metadata_keys;
  std::vector<std::string> metadata_values;
};

extern "C" {

int mlxb_load_safetensors(const char *path, mlxb_tensor_file *out) {
  return guarded([&] {
    auto [arrays, metadata] = mx::load_safetensors(std::string(path));
    auto *file = new mlxb_tensor_file_s();
    for (auto &[name, array] : arrays) {
      file->names.push_back(name);
      file->arrays.push_back(array);
    }
    for (auto &[key, value] : metadata) {
      file->metadata_keys.push_back(key);
      file->metadata_values.push_back(value);
    }
    *out = file;
  });
}

size_t mlxb_tensor_file_count(mlxb_tensor_file file) { return file->names.size(); }

const char *mlxb_tensor_file_name(mlxb_tensor_file file, size_t index) { return file->names.at(index).c_str(); }

int mlxb_tensor_file_array(mlxb_tensor_file file, size_t index, mlxb_array *out) {
  return guarded([&] { *out = mlxb::wrap(file->arrays.at(index)); });
}

size_t mlxb_tensor_file_metadata_count(mlxb_tensor_file file) { return file->metadata_keys.size(); }

const char *mlxb_tensor_file_metadata_key(mlxb_tensor_file file, size_t index) {
  return file->metadata_keys.at(index).c_str();
}

const char *mlxb_tensor_file_metadata_value(mlxb_tensor_file file, size_t index) {
  return file->metadata_values.at(index).c_str();
}

void mlxb_tensor_file_free(mlxb_tensor_file file) { delete file; }

int mlxb_save_safetensors(const char *path, const char *const *names, const mlxb_array *arrays, size_t count,
                          const char *const *metadata_keys, const char *const *metadata_values,
                          size_t metadata_count) {
  return guarded([&] {
    std::unordered_map<std::string, mx::array> tensors;
    for (size_t i = 0; i < count; i++) tensors.insert({names[i], mlxb::unwrap(arrays[i])});
    std::unordered_map<std::string, std::string> metadata;
    for (size_t i = 0; i < metadata_count; i++) metadata[metadata_keys[i]] = metadata_values[i];
    mx::save_safetensors(std::string(path), tensors, metadata);
  });
}

}  // extern "C"
