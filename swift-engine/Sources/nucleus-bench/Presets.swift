import NucleusModels

/// Model sizes for `nucleus-bench model`, written as the components' config.json would hold them.
///   full: the release (transformer/config.json of NucleusAI/Nucleus-Image, Qwen3-VL-8B's text model, the VAE)
///   mid:  the mid-size transformer and text encoder of bench/reference (diffusers_dit.py, transformers_text.py),
///         with the release VAE — small enough for a CPU
struct Preset {
  let name: String
  let transformer: TransformerConfig
  let textEncoder: TextEncoderConfig
  let vae: VAEConfig

  static func named(_ name: String) throws -> Preset {
    switch name {
    case "full":
      return Preset(
        name: name, transformer: try decode(fullTransformer), textEncoder: try decode(fullTextEncoder), vae: VAEConfig())
    case "mid":
      return Preset(
        name: name, transformer: try decode(midTransformer), textEncoder: try decode(midTextEncoder), vae: VAEConfig())
    default:
      throw UsageError("--preset must be full or mid, not '\(name)'")
    }
  }

  private static func decode<T: Decodable>(_ json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
  }

  static let fullTransformer = """
    {"patch_size": 2, "in_channels": 64, "out_channels": 16, "num_layers": 32, "attention_head_dim": 128,
     "num_attention_heads": 16, "num_key_value_heads": 4, "joint_attention_dim": 4096, "axes_dims_rope": [16, 56, 56],
     "mlp_ratio": 4.0, "moe_enabled": true, "dense_moe_strategy": "leave_first_three_blocks_dense", "num_experts": 64,
     "moe_intermediate_dim": 1344,
     "capacity_factors": [0, 0, 0, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
     "use_sigmoid": false, "route_scale": 2.5}
    """

  static let midTransformer = """
    {"patch_size": 2, "in_channels": 64, "out_channels": 16, "num_layers": 8, "attention_head_dim": 64,
     "num_attention_heads": 8, "num_key_value_heads": 2, "joint_attention_dim": 1024, "axes_dims_rope": [8, 28, 28],
     "mlp_ratio": 4.0, "moe_enabled": true, "dense_moe_strategy": "leave_first_three_blocks_dense", "num_experts": 16,
     "moe_intermediate_dim": 336, "capacity_factors": [0, 0, 0, 4, 4, 2, 2, 2], "use_sigmoid": false, "route_scale": 2.5}
    """

  static let fullTextEncoder = """
    {"model_type": "qwen3_vl", "text_config": {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288,
     "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
     "rms_norm_eps": 1e-6, "rope_theta": 5000000, "max_position_embeddings": 262144}}
    """

  static let midTextEncoder = """
    {"model_type": "qwen3_vl", "text_config": {"vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072,
     "num_hidden_layers": 16, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 64,
     "rms_norm_eps": 1e-6, "rope_theta": 5000000, "max_position_embeddings": 262144}}
    """
}
