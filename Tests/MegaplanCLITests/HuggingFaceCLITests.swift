import Testing
@testable import MegaplanCLI

/// `--hf-config`: config.json alone, over a YAML FILE, and its errors (exit 64, located).
@Suite struct HuggingFaceCLITests {
  let llama3 = rooted("Tests/MegatronPlanTests/Fixtures/hf/meta-llama-3-8b.json")

  @Test("estimate, config and check read config.json alone")
  func alone() {
    let estimate = runCLI(["estimate", "--hf-config", llama3, "--gpu", "h100-sxm"])
    #expect(estimate.code == 0, "\(estimate.stderr)")
    // Defaults: 8 GPUs, t = p = 1 (d = 8), global batch = 8 GPUs × micro-batch 1.
    #expect(estimate.stdout.contains("t=1 p=1 d=8") && estimate.stdout.contains("global batch 8"))
    let config = runCLI(["config", "--hf-config", llama3, "--gpus", "16"])
    #expect(config.code == 0)
    // num_hidden_layers is on line 16 of the fixture, its value at column 24.
    #expect(config.stdout.contains("meta-llama-3-8b.json:16:24"))
    let check = runCLI(["check", "--hf-config", llama3, "--gpu", "h100-sxm"])
    #expect(check.code == 0, "\(check.stdout)\(check.stderr)")
  }

  @Test("with a YAML FILE, config.json supplies the model")
  func overYAML() {
    let r = runCLI([
      "estimate", rooted("configs/llama3-8b.yaml"), "--hf-config",
      rooted("Tests/MegatronPlanTests/Fixtures/hf/llama-2-7b.json"),
    ])
    #expect(r.code == 0, "\(r.stderr)")
    // Llama 2 7B's intermediate_size 11008 and 32,000-token vocabulary, the YAML's t 1 cp 2.
    #expect(r.stdout.contains("FFN 11,008") && r.stdout.contains("vocabulary 32,000"))
    #expect(r.stdout.contains("t=1 cp=2"))
  }

  @Test("an error in config.json exits 64 with its file:line:column")
  func error() {
    let r = runCLI([
      "estimate", "--hf-config", rooted("Tests/MegatronPlanTests/Fixtures/hf/README.md"),
    ])
    #expect(r.code == 64)
    #expect(r.stderr.contains("README.md:1:1: error:") && r.stderr.contains("not valid JSON"))
    let missing = runCLI(["estimate"])
    #expect(missing.code == 64 && missing.stderr.contains("--hf-config"))
  }
}
