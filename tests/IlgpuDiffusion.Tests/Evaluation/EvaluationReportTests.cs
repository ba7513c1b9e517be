using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class EvaluationReportTests
{
    private static EvaluationReport Sample() => new(
        "Teacher vs students",
        [
            EvaluationRow.For("MDLM teacher", 64)
                .With(new GenerativePerplexityResult(
                    GenerativePerplexityConvention.MdlmTokenWeighted, 104.237, 4.6467, 16, 16000, 5.4321, 0.05))
                .With(new MauveResult(0.9123, 0.0042, [0.91, 0.915], 102, 300, 5120, 1024)),
            EvaluationRow.For("SDTT round 1", 32)
                .With(new GenerativePerplexityResult(
                    GenerativePerplexityConvention.MdlmTokenWeighted, 88.5, 4.48, 16, 16000, 5.3, double.NaN))
                .With(EvaluationRow.SelfBleuName, 0.25),
            EvaluationRow.For("AR | GPT", null).With(new LambadaResult(100, 0.375, 1234.4, 12.0), "Cloze"),
        ],
        ["Judge: own AR model (GPT-2 tokenizer).", "Line\nbreak"]);

    [Fact]
    public void Typed_results_become_named_columns()
    {
        EvaluationRow teacher = Sample().Rows[0];
        Assert.Equal(["Gen PPL (MDLM)", "Entropy", "MAUVE"], teacher.Metrics.Select(m => m.Name));
        Assert.Equal(0.0042, teacher.Metrics[2].StandardDeviation);
        EvaluationRow ar = Sample().Rows[2];
        Assert.Equal(["Cloze acc", "Cloze PPL/word", "Cloze PPL/token"], ar.Metrics.Select(m => m.Name));
    }

    [Fact]
    public void A_metric_name_appears_once_per_row()
    {
        var error = Assert.Throws<ArgumentException>(() => EvaluationRow.For("m", 8).With("MAUVE", 0.5).With("MAUVE", 0.6));
        Assert.Contains("MAUVE", error.Message);
    }

    [Theory]
    [InlineData(12345.6, null, "12346")]
    [InlineData(104.237, null, "104.2")]
    [InlineData(5.4321, null, "5.43")]
    [InlineData(0.9123, 0.0042, "0.912 ± 0.004")]
    [InlineData(double.NaN, null, "NaN")]
    public void Values_are_formatted_by_magnitude(double value, double? deviation, string expected) =>
        Assert.Equal(expected, new EvaluationMetric("x", value, deviation).Format());

    [Fact]
    public void Markdown_has_one_column_per_metric_and_blank_cells_for_missing_ones()
    {
        string markdown = MarkdownReportTable.Write(Sample());
        string[] lines = markdown.Split('\n');
        Assert.Equal("## Teacher vs students", lines[0]);
        Assert.Equal(
            "| Model | Steps | Gen PPL (MDLM) | Entropy | MAUVE | Self-BLEU | Cloze acc | Cloze PPL/word | Cloze PPL/token |", lines[2]);
        Assert.Equal("|---|---:|---:|---:|---:|---:|---:|---:|---:|", lines[3]);
        Assert.Equal("| MDLM teacher | 64 | 104.2 (94.5–115.0) | 5.43 | 0.912 ± 0.004 |  |  |  |  |", lines[4]);
        Assert.Equal("| SDTT round 1 | 32 | 88.50 | 5.30 |  | 0.250 |  |  |  |", lines[5]);
        Assert.Equal("| AR \\| GPT | — |  |  |  |  | 0.375 | 1234 | 12.00 |", lines[6]);
        Assert.Equal("- Judge: own AR model (GPT-2 tokenizer).", lines[8]);
        Assert.Equal("- Line break", lines[9]);
    }

    [Fact]
    public void Json_round_trips_the_report_including_NaN()
    {
        EvaluationReport report = Sample() with { Notes = ["n"] };
        report = report with { Rows = [.. report.Rows, EvaluationRow.For("broken", 8).With("Gen PPL (SDTT)", double.NaN)] };
        string json = report.ToJson();
        Assert.Contains("\"title\": \"Teacher vs students\"", json);
        EvaluationReport back = EvaluationReport.FromJson(json);
        Assert.Equal(report.Title, back.Title);
        Assert.Equal(report.Notes, back.Notes);
        Assert.Equal(report.Rows.Count, back.Rows.Count);
        for (int r = 0; r < report.Rows.Count; r++)
        {
            Assert.Equal(report.Rows[r].Model, back.Rows[r].Model);
            Assert.Equal(report.Rows[r].Steps, back.Rows[r].Steps);
            Assert.Equal(report.Rows[r].Metrics, back.Rows[r].Metrics);
        }
    }

    [Fact]
    public void Save_and_load_use_a_file_and_report_bad_content()
    {
        using var folder = new TempDirectory();
        string path = folder.File("eval/report.json");
        Sample().Save(path);
        Assert.Equal(["eval/report.json"], folder.AllFiles());
        Assert.Equal(Sample().Title, EvaluationReport.Load(path).Title);
        string bad = folder.Write("bad.json", "{\"rows\": 3}");
        var error = Assert.Throws<InvalidDataException>(() => EvaluationReport.Load(bad));
        Assert.Contains(bad, error.Message);
    }

    [Fact]
    public void Results_serialize_with_System_Text_Json()
    {
        var mauve = new MauveResult(0.9, 0.01, [0.89, 0.91], 10, 3, 100, 100);
        string json = System.Text.Json.JsonSerializer.Serialize(mauve);
        MauveResult back = System.Text.Json.JsonSerializer.Deserialize<MauveResult>(json)!;
        Assert.Equal(mauve.PerSeed, back.PerSeed);
        Assert.Equal(mauve with { PerSeed = back.PerSeed }, back);
        var ppl = new GenerativePerplexityResult(GenerativePerplexityConvention.SdttPerSampleMean, 50, 3.9, 4, 4092, 5.1, 0.1);
        string pplJson = System.Text.Json.JsonSerializer.Serialize(ppl);
        Assert.Contains("\"SdttPerSampleMean\"", pplJson);
        Assert.Equal(ppl, System.Text.Json.JsonSerializer.Deserialize<GenerativePerplexityResult>(pplJson));
    }
}
