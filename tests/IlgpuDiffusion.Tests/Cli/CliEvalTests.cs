using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary><c>eval</c> end to end on a one-block diffusion model and a one-block GPT-2 judge, both as Hugging Face folders.</summary>
public sealed class CliEvalTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Eval_writes_json_and_markdown_with_the_requested_rows()
    {
        string corpus = _temp.File("corpus"), shards = _temp.File("shards"), teacher = _temp.File("teacher"),
            judge = _temp.File("gpt2-tiny");
        TinyCorpus.Write(corpus, documents: 8, words: 60);
        CliResult prepare = await CliRunner.Run("prepare", corpus, "-o", shards, "--length", "32", "--validation-fraction", "0.5",
            "--seed", "3");
        Assert.True(prepare.ExitCode == 0, prepare.ToString());
        using (Device device = Device.Create("cpu"))
        {
            using (var dit = new Dit(TinyModels.EvaluationDit, device, withGradients: false))
            {
                dit.Initialize(seed: 4);
                HuggingFaceImport.Save(dit.Parameters, teacher);
            }
            using var gpt = new Gpt(TinyModels.EvaluationGpt(), device, withGradients: false);
            gpt.Initialize(seed: 5);
            GptHuggingFace.Save(gpt.Parameters, judge);
        }
        string lambada = _temp.Write("lambada_test.jsonl",
            "{\"text\": \"the people of this union met in congress\"}\n{\"text\": \"a nation that is free and strong\"}\n");

        CliResult eval = await CliRunner.Run("eval", teacher, "--ar", judge, "--data", shards, "--lambada", lambada, "--steps", "2", "4",
            "--samples", "2", "--length", "16", "--prompts", "2", "--prompt-length", "8", "--continuation-length", "8",
            "--lambada-draws", "2",
            "--validation-batches", "1", "--device", "cpu", "-o", _temp.File("out"));
        Assert.True(eval.ExitCode == 0, eval.ToString());
        EvaluationReport report = EvaluationReport.Load(_temp.File("out/evaluation.json"));
        Assert.Equal([("teacher", null), ("teacher", 2), ("teacher", 4), ("gpt2-tiny", (int?)null)],
            report.Rows.Select(r => (r.Model, r.Steps)));
        Assert.Contains(report.Rows[1].Metrics, m => m.Name == EvaluationRow.MauveName);
        Assert.Contains(report.Rows[0].Metrics, m => m.Name == "LAMBADA acc");
        Assert.Equal(File.ReadAllText(_temp.File("out/evaluation.md")), eval.Out);
        Assert.Contains("| teacher | 4 |", eval.Out);
        // Off a terminal, one line per finished stage on standard error, the judge's scoring of each model's samples included.
        Assert.Contains("Judge scoring samples: teacher at 2 steps done (2)", eval.ErrorLines);

        CliResult validationOnly = await CliRunner.Run("eval", teacher, "--ar", judge, "--data", shards, "--parts", "validation",
            "--validation-batches", "1", "--device", "cpu", "-o", _temp.File("validation"));
        Assert.True(validationOnly.ExitCode == 0, validationOnly.ToString());
        EvaluationReport context = EvaluationReport.Load(_temp.File("validation/evaluation.json"));
        Assert.Equal([("teacher", null), ("gpt2-tiny", (int?)null)], context.Rows.Select(r => (r.Model, r.Steps)));
        Assert.Equal(["Val PPL", "CE t=0.1", "CE t=0.9"], context.Rows[0].Metrics.Select(m => m.Name));

        CliResult missing = await CliRunner.Run("eval", _temp.File("nothing.safetensors"), "--data", shards, "--device", "cpu",
            "-o", _temp.File("missing"));
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("error: '", Assert.Single(missing.ErrorLines));
    }

    public void Dispose() => _temp.Dispose();
}
