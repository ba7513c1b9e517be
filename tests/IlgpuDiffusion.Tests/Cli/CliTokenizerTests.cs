using System.Text.Json;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Cli.Demo;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// The tool over the byte tokenizer: <c>prepare --tokenizer bytes</c>, then <c>train</c>, <c>info</c> and <c>sample</c>
/// follow the shards and the checkpoint; a tokenizer that contradicts the shards is one error line; the tiny demo runs
/// every stage over byte shards.
/// </summary>
public sealed class CliTokenizerTests : IDisposable
{
    private static readonly string[] TinyModel = ["--layers", "1", "--hidden", "32", "--heads", "2", "--cond-dim", "16"];

    private readonly TempDirectory _temp = new();

    private async Task<string> PrepareBytes(string name, string[]? extra = null)
    {
        string corpus = _temp.File("corpus"), shards = _temp.File(name);
        if (!Directory.Exists(corpus)) TinyCorpus.Write(corpus);
        CliResult prepare = await CliRunner.Run(["prepare", corpus, "-o", shards, "--length", "32", "--validation-fraction", "0.25",
            "--tokenizer", "bytes", .. extra ?? []]);
        Assert.True(prepare.ExitCode == 0, prepare.ToString());
        Assert.Contains("bytes (vocabulary 257)", prepare.Out);
        return shards;
    }

    [Fact]
    public async Task Byte_shards_train_byte_models_that_info_shows_sample_decodes_and_eval_judges_with_a_byte_gpt_only()
    {
        string shards = await PrepareBytes("shards"), checkpoint = _temp.File("bytes.safetensors");
        Assert.Equal(("bytes", 257), (PreparedCorpus.Open(shards).Metadata.Tokenizer, PreparedCorpus.Open(shards).Metadata.VocabularySize));

        CliResult train = await CliRunner.Run(["train", "--data", shards, .. TinyModel, "--steps", "2", "--batch", "4",
            "--validation-batches", "1", "--device", "cpu", "-o", checkpoint]);
        Assert.True(train.ExitCode == 0, train.ToString());
        DitConfig model = MdlmCheckpoint.ReadHeader(checkpoint).Model;
        Assert.Equal(("bytes", 258, 32), (model.Tokenizer, model.Vocab, model.Length));

        CliResult info = await CliRunner.Run("info", checkpoint);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Matches(@"Tokenizer\W+bytes\W", info.Out);

        CliResult sampled = await CliRunner.Run("sample", checkpoint, "--steps", "4", "--batch", "2", "--seed", "3", "--format", "jsonl",
            "--prompt", "the people", "--device", "cpu");
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        int[] prompt = [256, .. ByteTokenizer.Shared.Encode("the people")];
        foreach (string line in sampled.OutLines)
        {
            using var json = JsonDocument.Parse(line);
            int[] ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32()).ToArray();
            Assert.Equal(32, ids.Length);
            Assert.Equal(prompt, ids[..prompt.Length]);
            Assert.All(ids, id => Assert.InRange(id, 0, 256));
            string text = json.RootElement.GetProperty("text").GetString()!;
            Assert.StartsWith("the people", text);
            Assert.Equal(ByteTokenizer.Shared.Decode(ids[1..^(ids[^1] == 256 ? 1 : 0)]), text);
        }

        string gpt = _temp.File("gpt.safetensors");
        CliResult ar = await CliRunner.Run("train", "--model", "ar", "--data", shards, "--layers", "1", "--hidden", "32", "--heads", "2",
            "--steps", "1", "--batch", "2", "--validation-batches", "1", "--device", "cpu", "-o", gpt);
        Assert.True(ar.ExitCode == 0, ar.ToString());
        Assert.Equal(("bytes", 257), (GptCheckpoint.ReadHeader(gpt).Model.Tokenizer, GptCheckpoint.ReadHeader(gpt).Model.Vocab));

        string[] evaluate = ["eval", checkpoint, "--data", shards, "--steps", "2", "--samples", "2", "--length", "16", "--prompts", "2",
            "--prompt-length", "8", "--continuation-length", "8", "--validation-batches", "1", "--device", "cpu", "-o", _temp.File("eval")];
        CliResult eval = await CliRunner.Run([.. evaluate, "--ar", gpt]);
        Assert.True(eval.ExitCode == 0, eval.ToString());
        EvaluationReport report = EvaluationReport.Load(_temp.File("eval/evaluation.json"));
        EvaluationRow sampled2 = Assert.Single(report.Rows, r => r.Model == "bytes" && r.Steps == 2);
        Assert.Contains(sampled2.Metrics, m => m.Name == DemoResults.GenPplMdlm && double.IsFinite(m.Value));

        string gpt2Judge = _temp.File("gpt2-judge");
        using (var device = Device.Create("cpu"))
        using (var judge = new Gpt(TinyModels.EvaluationGpt(), device, withGradients: false))
        {
            judge.Initialize(seed: 5);
            GptHuggingFace.Save(judge.Parameters, gpt2Judge);
        }
        CliResult mismatch = await CliRunner.Run([.. evaluate, "--judge", gpt2Judge]);
        Assert.True(mismatch.ExitCode == CliApplication.Failure, mismatch.ToString());
        Assert.Contains("reads gpt2 tokens, but the models bytes tokens", Assert.Single(mismatch.ErrorLines));
    }

    [Fact]
    public async Task A_tokenizer_that_contradicts_the_shards_or_is_unknown_is_one_error_line()
    {
        string shards = await PrepareBytes("shards");
        CliResult gpt2 = await CliRunner.Run(["train", "--data", shards, "--tokenizer", "gpt2", .. TinyModel, "--steps", "1",
            "--device", "cpu", "-o", _temp.File("x.safetensors")]);
        Assert.True(gpt2.ExitCode == CliApplication.Failure, gpt2.ToString());
        string line = Assert.Single(gpt2.ErrorLines);
        Assert.Contains("was prepared with the bytes tokenizer (vocabulary 257), but gpt2 (vocabulary 50257) is asked for", line);

        CliResult unknown = await CliRunner.Run("prepare", "--embedded", "--tokenizer", "chars");
        Assert.True(unknown.ExitCode == CliApplication.UsageError, unknown.ToString());
        Assert.Contains("'chars'", unknown.Error);
    }

    [Fact]
    public async Task The_tiny_demo_runs_every_stage_over_byte_shards()
    {
        string shards = await PrepareBytes("shards"), output = _temp.File("demo");
        CliResult contradicting = await CliRunner.Run("demo", "--preset", "tiny", "--data", shards, "--tokenizer", "gpt2", "-o", output,
            "--device", "cpu");
        Assert.True(contradicting.ExitCode == CliApplication.Failure, contradicting.ToString());
        Assert.Contains("prepared with the bytes tokenizer", Assert.Single(contradicting.ErrorLines));

        CliResult demo = await CliRunner.Run("demo", "--preset", "tiny", "--data", shards, "-o", output, "--device", "cpu");
        Assert.True(demo.ExitCode == 0, demo.ToString());
        var layout = new DemoLayout(output);
        DitConfig teacher = MdlmCheckpoint.ReadHeader(layout.Teacher).Model;
        GptConfig judge = GptCheckpoint.ReadHeader(layout.Judge).Model;
        Assert.Equal(("bytes", 258, "bytes", 258), (teacher.Tokenizer, teacher.Vocab, judge.Tokenizer, judge.Vocab));
        string report = File.ReadAllText(layout.Report);
        Assert.Contains("demo --preset tiny --tokenizer bytes`", report);
        Assert.Contains("(bytes tokenizer, held-out whole documents)", report);
        IReadOnlyList<DemoStudent> students = DistillationStage.Students(DemoPreset.Tiny, seed: 1, layout);
        var results = new DemoResults(EvaluationReport.Load(Path.Combine(output, EvaluationSuite.JsonFileName)),
            LatencyFile.Load(layout.Latency), [DistillationStage.TeacherName, .. students.Select(s => s.Name)], []);
        Assert.All(students, student => Assert.Equal("bytes", MdlmCheckpoint.ReadHeader(student.Path).Model.Tokenizer));
        foreach (string metric in new[] { DemoResults.GenPplSdtt, DemoResults.GenPplMdlm })
            Assert.True(results.Value(DistillationStage.TeacherName, 8, metric) is double v && double.IsFinite(v) && v > 0, metric);
    }

    public void Dispose() => _temp.Dispose();
}
