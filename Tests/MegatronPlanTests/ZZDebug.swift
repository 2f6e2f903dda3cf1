import Testing
@testable import MegatronPlan
@Test func zzdebug() {
  for run in PaperRun.all {
    for (sp, rc, pub) in [(false, Recompute.full(method: .uniform, layers: 1), run.fullRecomputeSeconds), (true, Recompute.selective, run.presentWorkSeconds)] {
      let e = Estimate(TrainingRun(model: run.model, layout: run.layout(sp: sp, recompute: rc)))
      let bd = e.time.breakdown.terms.map { "\($0.name)=\(String(format: "%.2f", $0.value.value))" }.joined(separator: " ")
      print("ZZ \(run.name) \(rc.name) pub \(pub) pred \(String(format: "%.2f", e.time.iterationSeconds)) err \(String(format: "%+.1f%%", (e.time.iterationSeconds/pub-1)*100)) | \(bd)")
    }
  }
  let r = PaperRun.all[0]
  for (sp, rc) in [(false, Recompute.none), (true, .none), (false, .full(method: .uniform, layers: 1)), (false, .selective), (true, .selective)] {
    let m = StepTimeModel(model: r.model, layout: r.layout(sp: sp, recompute: rc), precision: .bf16, gpu: .a100_80GB)
    print("ZZ layer fwd \(m.layerForward().total.value*1000) bwd \((m.layerBackward().total + m.layerRecompute()).value*1000)  \(m.layerForward())")
  }
}
