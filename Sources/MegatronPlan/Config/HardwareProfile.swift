/// A cluster's hardware profile: a YAML file holding one `megaplan.hardware` section (what
/// `megaplan calibrate -o FILE` writes), which `--hardware FILE` puts in place of the config's
/// own section, so that every command plans with the cluster's measured constants.
public enum HardwareProfile {
  /// The profile's `megaplan.hardware` section. A file with anything else in it is refused
  /// where the other key is: a profile describes hardware, never a model or a layout.
  public static func section(of profile: ConfigDocument) throws -> ConfigNode.MappingEntry {
    let rule =
      "a --hardware file holds one section, megaplan.hardware (what megaplan calibrate -o writes)"
    guard case .mapping(let top) = profile.root.kind, !top.isEmpty else {
      throw ConfigError("\(rule); \(profile.file) has none", at: profile.root.location)
    }
    for entry in top where entry.key != "megaplan" {
      throw ConfigError("\(rule); found '\(entry.key)'", key: entry.key, at: entry.keyLocation)
    }
    guard let megaplan = top.first, case .mapping(let keys) = megaplan.value.kind else {
      throw ConfigError("\(rule); 'megaplan' is not a mapping", at: top[0].keyLocation)
    }
    for entry in keys where entry.key != "hardware" {
      throw ConfigError(
        "\(rule); found 'megaplan.\(entry.key)'", key: "megaplan.\(entry.key)",
        at: entry.keyLocation)
    }
    guard let hardware = keys.first else {
      throw ConfigError("\(rule); 'megaplan' has no 'hardware'", at: megaplan.keyLocation)
    }
    return hardware
  }

  /// `root` (a NeMo or Megatron-Bridge tree) with its `megaplan.hardware` replaced by the
  /// profile's, and a warning when the config names another GPU than the profile's base (the
  /// profile's wins: it is the cluster the run is planned on).
  public static func applying(_ profile: ConfigDocument, to root: ConfigNode) throws -> (
    ConfigNode, [ConfigWarning]
  ) {
    let hardware = try section(of: profile)
    var warnings: [ConfigWarning] = []
    guard case .mapping(var entries) = root.kind else { return (root, warnings) }
    let baseName: String? = {
      if case .scalar(let text, _)? = hardware.value.entry("base")?.value.kind { return text }
      return nil
    }()
    if let i = entries.firstIndex(where: { $0.key == "megaplan" }),
      case .mapping(var section) = entries[i].value.kind
    {
      if let gpu = section.first(where: { $0.key == "gpu" }),
        case .scalar(let name, _) = gpu.value.kind,
        let baseName, Self.profileName(name) != Self.profileName(baseName)
      {
        warnings.append(
          ConfigWarning(
            message:
              "the config's megaplan.gpu '\(name)' is replaced by the hardware profile's base '\(baseName)' (\(profile.file))",
            location: gpu.value.location))
      }
      section.removeAll { $0.key == "hardware" }
      section.append(hardware)
      entries[i].value.kind = .mapping(section)
    } else {
      entries.append(
        ConfigNode.MappingEntry(
          key: "megaplan", keyLocation: hardware.keyLocation,
          value: ConfigNode(.mapping([hardware]), at: hardware.keyLocation)))
    }
    var out = root
    out.kind = .mapping(entries)
    return (out, warnings)
  }

  /// A GPU name as a profile (`h100` → `h100-sxm` as Megatron-Bridge's launcher names it).
  static func profileName(_ name: String) -> String {
    let key = name.lowercased()
    return BridgeConfig.gpuAliases[key] ?? key
  }
}
