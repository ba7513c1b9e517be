using System.Xml;
using System.Xml.Linq;
using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Cli.Demo;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// The demo report's figures, drawn from small hand-made metrics logs and measurements: each is an SVG file (managed, no
/// native graphics library) that parses as XML and shows its title, axis labels and legend entries.
/// </summary>
public sealed class DemoPlotsTests : IDisposable
{
    private const string Student = "SDTT round 1 (8 steps)";

    private readonly TempDirectory _temp = new();

    [Fact]
    public void Every_figure_is_a_well_formed_svg_with_its_title_axis_labels_and_legend()
    {
        var layout = new DemoLayout(_temp.Path);
        WriteMetrics(layout);

        DemoPlots.Write(layout, Results());

        var expected = new Dictionary<string, string[]>
        {
            [DemoPlots.Training] =
            [
                "Training curves", "optimizer step", "nats per token", "MDLM teacher: training NELBO",
                "MDLM teacher: validation NELBO (EMA)", "AR judge: training NLL", "AR judge: validation NLL (EMA)",
            ],
            [DemoPlots.Distillation] = ["Distillation", "divergence per masked token", "SDTT loss (reverse KL)", "8 steps"],
            [DemoPlots.GenerativePerplexity] =
                ["Generative perplexity", "sampling steps", "Gen PPL", DistillationStage.TeacherName, Student],
            [DemoPlots.Entropy] = ["Mean unigram entropy", "Entropy (nats)", DistillationStage.TeacherName, Student],
            [DemoPlots.Cloze] = ["LAMBADA-style cloze", "accuracy (%)", "teacher", "round 1 (8)", "AR"],
            [DemoPlots.Latency] = ["Latency: 4 sequences of 32 tokens", "seconds", "diffusion sampler (cached)", "AR judge, KV cache"],
        };
        Assert.Equal(expected.Keys.Order(), DemoPlots.All.Order());
        foreach ((string figure, string[] texts) in expected)
        {
            Assert.EndsWith(".svg", figure, StringComparison.Ordinal);
            string path = Path.Combine(layout.Figures, figure);
            XDocument svg = Parse(path);
            Assert.Equal("svg", svg.Root!.Name.LocalName);
            string[] shown = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToArray();
            foreach (string text in texts) Assert.True(shown.Any(s => s.Contains(text, StringComparison.Ordinal)), $"{figure}: '{text}'");
        }
        Assert.Equal(DemoPlots.All.Order(), Directory.GetFiles(layout.Figures).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void The_validation_curves_are_dashed_and_short_curves_have_round_markers()
    {
        var layout = new DemoLayout(_temp.Path);
        WriteMetrics(layout);

        DemoPlots.Write(layout, Results());

        string training = File.ReadAllText(Path.Combine(layout.Figures, DemoPlots.Training));
        Assert.Contains("stroke-dasharray", training, StringComparison.Ordinal);
        Assert.Contains("<ellipse", training, StringComparison.Ordinal);
    }

    private static XDocument Parse(string path)
    {
        using XmlReader reader = XmlReader.Create(path, new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }

    private void WriteMetrics(DemoLayout layout)
    {
        _temp.Write(Path.GetFileName(layout.TeacherMetrics), """
            {"kind":"train","step":1,"loss":5.5}
            {"kind":"train","step":2,"loss":4.5}
            {"kind":"validation","step":2,"nelbo":4.8}
            {"kind":"train","step":3,"loss":4.0}
            {"kind":"validation","step":3,"nelbo":4.2}
            """);
        _temp.Write(Path.GetFileName(layout.JudgeMetrics), """
            {"kind":"train","step":1,"loss":5.0}
            {"kind":"train","step":2,"loss":4.1}
            {"kind":"validation","step":2,"nll":4.4}
            """);
        _temp.Write(Path.GetFileName(layout.DistillMetrics), """
            {"kind":"distill","step":1,"loss":0.4}
            {"kind":"distill","step":2,"loss":0.2}
            {"kind":"round","step":2,"samplingSteps":8}
            """);
    }

    private static DemoResults Results()
    {
        const string teacher = DistillationStage.TeacherName;
        EvaluationRow Row(string model, int steps, double genPpl, double entropy) =>
            EvaluationRow.For(model, steps).With(DemoResults.GenPplSdtt, genPpl).With(EvaluationRow.EntropyName, entropy);
        var rows = new List<EvaluationRow>
        {
            Row(teacher, 8, 400, 5.1), Row(teacher, 16, 300, 5.2), Row(Student, 8, 320, 5.0),
            EvaluationRow.For(teacher).With(DemoResults.ClozeAccuracy, 0.2),
            EvaluationRow.For(Student).With(DemoResults.ClozeAccuracy, 0.25),
            EvaluationRow.For(EvaluationStage.JudgeName).With(DemoResults.ClozeAccuracy, 0.3),
        };
        var latency = new LatencyReport("cpu", 10, 10, 4, 32,
        [
            new LatencyMeasurement(LatencyMeasurement.Autoregressive, null, null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2),
                32, 128),
            new LatencyMeasurement(LatencyMeasurement.Diffusion, 8, true, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 8, 128),
            new LatencyMeasurement(LatencyMeasurement.Diffusion, 16, true, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), 16, 128),
        ]);
        return new DemoResults(new EvaluationReport("t", rows, []), latency, [teacher, Student], []);
    }

    public void Dispose() => _temp.Dispose();
}
