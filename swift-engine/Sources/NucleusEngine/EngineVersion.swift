/// The engine's version; kept equal to package.json's "version" (a test checks).
public enum EngineVersion {
  public static let string = "0.1.0"
  public static let proto = "nucleus.engine.v1"
}
