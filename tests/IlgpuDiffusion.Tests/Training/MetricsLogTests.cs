using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Training;

public sealed class MetricsLogTests
{
    [Fact]
    public void Metrics_go_to_a_human_line_and_a_json_line_each()
    {
        using var temp = new TempDirectory();
        string path = temp.File("logs/metrics.jsonl");
        var human = new StringWriter();
        using (var log = new MetricsLog(human, path) { TotalSteps = 100 })
        {
            log.Write(new TrainingMetrics(10, 5.25, 0.5, 3e-5, 120.5, 8500, null));
            log.Write(new ValidationMetrics(10, 4.0, Math.Exp(4.0), 2048, 1.5));
        }
        using (var log = new MetricsLog(null, path))
            log.Write(new TrainingMetrics(20, 5.0, 0.4, 6e-5, 100, 9000, 0.25) { MaskedAttentionEntropy = 3.25 });

        string[] text = human.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("step 10/100 | loss 5.2500 | norm 0.5000 | lr 3.00e-05 | 120.5 ms | 8,500 tok/s", text[0]);
        Assert.StartsWith("step 10/100 | validation NELBO 4.0000 | PPL ≤ 54.60", text[1]);

        string[] lines = File.ReadAllLines(path);
        Assert.Equal(3, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("train", first.RootElement.GetProperty("kind").GetString());
        Assert.Equal(10, first.RootElement.GetProperty("step").GetInt64());
        Assert.Equal(5.25, first.RootElement.GetProperty("loss").GetDouble());
        Assert.False(first.RootElement.TryGetProperty("mfu", out _));
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("validation", second.RootElement.GetProperty("kind").GetString());
        Assert.Equal(Math.Exp(4.0), second.RootElement.GetProperty("perplexity").GetDouble());
        using var third = JsonDocument.Parse(lines[2]);
        Assert.Equal(0.25, third.RootElement.GetProperty("mfu").GetDouble());
        Assert.Equal(3.25, third.RootElement.GetProperty("maskedAttentionEntropy").GetDouble());
        Assert.False(first.RootElement.TryGetProperty("maskedAttentionEntropy", out _));
    }

    [Fact]
    public void Non_finite_metrics_are_written_as_named_literals_and_every_line_stays_whole()
    {
        using var temp = new TempDirectory();
        string path = temp.File("metrics.jsonl");
        var human = new StringWriter();
        using (var log = new MetricsLog(human, path))
        {
            log.Write(new ValidationMetrics(10, double.PositiveInfinity, double.PositiveInfinity, 2048, 1.5));
            log.Write(new TrainingMetrics(11, double.NaN, double.PositiveInfinity, 3e-5, 1, 1, null)
            {
                MaskedAttentionEntropy = double.NegativeInfinity,
            });
            Assert.Throws<InvalidOperationException>(() => log.Write(new BrokenRecord()));
            log.Write(new ValidationMetrics(12, 4.0, Math.Exp(4.0), 2048, 1.5));
        }

        Assert.Contains("validation NELBO Infinity | PPL ≤ Infinity", human.ToString());
        var read = new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        string[] lines = File.ReadAllLines(path);
        Assert.Equal(3, lines.Length);
        var validation = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(lines[0])!;
        Assert.Equal(double.PositiveInfinity, validation["perplexity"].Deserialize<double>(read));
        Assert.Equal(double.PositiveInfinity, validation["nelbo"].Deserialize<double>(read));
        var train = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(lines[1])!;
        Assert.True(double.IsNaN(train["loss"].Deserialize<double>(read)));
        Assert.Equal(double.NegativeInfinity, train["maskedAttentionEntropy"].Deserialize<double>(read));
        Assert.Equal(12, JsonDocument.Parse(lines[2]).RootElement.GetProperty("step").GetInt64());
    }

    /// <summary>A record whose fields fail half-way: the log must not keep half a line.</summary>
    private sealed class BrokenRecord : IMetricsRecord
    {
        public string Kind => "broken";

        public long Step => 11;

        public string HumanLine(string stepText) => "broken";

        public void WriteFields(Utf8JsonWriter writer)
        {
            writer.WriteNumber("first", 1);
            throw new InvalidOperationException("fails half-way");
        }
    }
}
