using System.Globalization;
using System.Text.Json;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// The tool end to end, in-process through the executable's entry point: prepare a tiny corpus, train a one-block
/// model for a few steps on the CPU, resume it, inspect it, and sample from it as text, JSON lines and a file.
/// </summary>
public sealed class CliEndToEndTests : IDisposable
{
    private static readonly string[] TinyModel = ["--layers", "1", "--hidden", "32", "--heads", "2", "--cond-dim", "16"];

    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Prepare_train_resume_info_and_sample_work_together()
    {
        string corpus = _temp.File("corpus"), shards = _temp.File("shards"), checkpoint = _temp.File("run/tiny.safetensors");
        TinyCorpus.Write(corpus);

        CliResult prepare = await CliRunner.Run("prepare", corpus, "-o", shards, "--length", "32", "--validation-fraction", "0.25",
            "--seed", "3");
        Assert.True(prepare.ExitCode == 0, prepare.ToString());
        Assert.Empty(prepare.Error);
        PreparedCorpus prepared = PreparedCorpus.Open(shards);
        Assert.Equal(32, prepared.SequenceLength);
        Assert.True(prepared.Metadata.Validation.Sequences > 0);
        Assert.Contains(prepared.Metadata.Train.Sequences.ToString("N0", CultureInfo.InvariantCulture) + " sequences", prepare.Out);

        CliResult train = await CliRunner.Run(["train", "--data", shards, .. TinyModel, "--steps", "4", "--batch", "4", "--lr", "1e-3",
            "--warmup", "2", "--log-interval", "2", "--validation-batches", "2", "--device", "cpu", "-o", checkpoint]);
        Assert.True(train.ExitCode == 0, train.ToString());
        MdlmCheckpointHeader header = MdlmCheckpoint.ReadHeader(checkpoint);
        Assert.Equal((1, 32, 2, 16, 32), (header.Model.Layers, header.Model.Hidden, header.Model.Heads, header.Model.CondDim,
            header.Model.Length));
        Assert.Equal((4L, 4, 1e-3, 4), (header.State.Step, header.Training.BatchSize, header.Training.LearningRate,
            header.Training.MaxSteps));
        string metrics = Path.ChangeExtension(checkpoint, ".metrics.jsonl");
        Assert.Equal(["train 2", "train 4", "validation 4"], MetricKinds(metrics));
        Assert.Contains("step 4/4 | validation NELBO", train.Out);

        // What a run that crashed after its step-4 checkpoint leaves behind: later records, then a torn line.
        File.AppendAllText(metrics, "{\"kind\":\"train\",\"step\":6,\"loss\":1.0}\n{\"kind\":\"tra");
        // -o holds the EMA weights alone; latest is the end's step-numbered checkpoint with the run's full state.
        CliResult resume = await CliRunner.Run("train", "--data", shards, "--resume", "latest", "-o", checkpoint, "--steps", "6",
            "--log-interval", "2", "--device", "cpu");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.Equal(6, MdlmCheckpoint.ReadHeader(checkpoint).State.Step);
        Assert.Equal(["train 2", "train 4", "validation 4", "train 6", "validation 6"], MetricKinds(metrics));

        CliResult info = await CliRunner.Run("info", checkpoint);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains(header.Model.ParameterCount().ToString("N0", CultureInfo.InvariantCulture), info.Out);
        Assert.Contains("LearningRate", info.Out);
        Assert.Contains("MicroBatches", info.Out);
        CliResult corpusInfo = await CliRunner.Run("info", shards);
        Assert.True(corpusInfo.ExitCode == 0, corpusInfo.ToString());
        Assert.Contains(prepared.Directory, corpusInfo.Out);

        string[] sampleArgs = ["sample", checkpoint, "--steps", "8", "--batch", "2", "--seed", "5", "--device", "cpu"];
        CliResult text = await CliRunner.Run(sampleArgs);
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("=== sample 1 of 2 ===", text.Out);
        Assert.Contains("=== sample 2 of 2 ===", text.Out);
        Assert.StartsWith("Sampled 2 × 32 tokens with 8 steps, seed 5, on cpu", Assert.Single(text.ErrorLines));
        Assert.Equal(text.Out, (await CliRunner.Run(sampleArgs)).Out);

        // Without --seed (or with -1) every run draws a new seed and names it; temperature 0 is greedy.
        string[] unseeded = ["sample", checkpoint, "--steps", "8", "--batch", "2", "--device", "cpu"];
        CliResult first = await CliRunner.Run(unseeded), second = await CliRunner.Run([.. unseeded, "--seed", "-1"]);
        Assert.True(first.ExitCode == 0 && second.ExitCode == 0, first + "\n" + second);
        Assert.NotEqual(SeedOf(first), SeedOf(second));
        CliResult reproduced = await CliRunner.Run([.. unseeded, "--seed", SeedOf(first)]);
        Assert.Equal(first.Out, reproduced.Out);
        CliResult greedy = await CliRunner.Run([.. sampleArgs, "--temperature", "0"]);
        Assert.True(greedy.ExitCode == 0, greedy.ToString());
        Assert.NotEqual(text.Out, greedy.Out);

        CliResult jsonl = await CliRunner.Run([.. sampleArgs, "--format", "jsonl", "--prompt", "the people"]);
        Assert.True(jsonl.ExitCode == 0, jsonl.ToString());
        int[] prompt = [Gpt2Tokenizer.Bos, .. Gpt2Tokenizer.Shared.Encode("the people")];
        Sample[] samples = jsonl.OutLines.Select(Sample.Parse).ToArray();
        Assert.Equal([0, 1], samples.Select(s => s.Index));
        foreach (Sample sample in samples)
        {
            Assert.Equal(32, sample.Ids.Length);
            Assert.Equal(prompt, sample.Ids[..prompt.Length]);
            Assert.DoesNotContain(Gpt2Tokenizer.Mask, sample.Ids);
            Assert.Equal(SampleText.Decode(sample.Ids, Gpt2Tokenizer.Shared), sample.Text);
        }

        string file = _temp.File("out/long.jsonl");
        CliResult semiAutoregressive = await CliRunner.Run([.. sampleArgs, "--format", "jsonl", "--total-length", "48", "--stride", "16",
            "-o", file]);
        Assert.True(semiAutoregressive.ExitCode == 0, semiAutoregressive.ToString());
        Assert.Empty(semiAutoregressive.Out);
        Assert.Equal([48, 48], File.ReadAllLines(file).Select(line => Sample.Parse(line).Ids.Length));

        CliResult streamed = await CliRunner.Run([.. sampleArgs, "--stream"]);
        Assert.True(streamed.ExitCode == 0, streamed.ToString());
        Assert.Equal(text.Out, streamed.Out);
        Assert.Equal(8 + 2, streamed.ErrorLines.Length); // a line per step, noise removal, the summary
        Assert.StartsWith("step 1/8 |", streamed.ErrorLines[0]);
        Assert.StartsWith("noise removal |", streamed.ErrorLines[8]);
    }

    [Fact]
    public async Task The_autoregressive_baseline_trains_resumes_and_is_inspected()
    {
        string corpus = _temp.File("corpus"), shards = _temp.File("shards"), checkpoint = _temp.File("ar/gpt.safetensors");
        TinyCorpus.Write(corpus);
        Assert.Equal(0, (await CliRunner.Run("prepare", corpus, "-o", shards, "--length", "32", "--validation-fraction", "0.25")).ExitCode);

        string[] model = ["--model", "ar", "--layers", "1", "--hidden", "32", "--heads", "2"];
        CliResult train = await CliRunner.Run(["train", "--data", shards, .. model, "--steps", "4", "--batch", "4", "--lr", "1e-3",
            "--warmup", "2", "--log-interval", "2", "--validation-batches", "2", "--device", "cpu", "-o", checkpoint]);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Matches(@"step 4/4 \| validation NLL [0-9.]+ \| PPL = ", train.Out); // exact, not a bound like the NELBO
        GptCheckpointHeader header = GptCheckpoint.ReadHeader(checkpoint);
        Assert.Equal((1, 32, 2, 32), (header.Model.Layers, header.Model.Hidden, header.Model.Heads, header.Model.Length));
        Assert.Equal(4, header.State.Step);
        Assert.Equal(["train 2", "train 4", "validation 4"], MetricKinds(Path.ChangeExtension(checkpoint, ".metrics.jsonl")));

        CliResult resume = await CliRunner.Run("train", "--model", "ar", "--data", shards, "--resume", "latest", "-o", checkpoint,
            "--steps", "6", "--device", "cpu", "--profile");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.Equal(6, GptCheckpoint.ReadHeader(checkpoint).State.Step);
        // Step 5 warms up; step 6 is profiled: the table has the step's ops (the GEMMs among them) and what ran outside them.
        Assert.Contains("Where a step's time goes (1 step profiled on CPU", resume.Out);
        Assert.Contains("| LinearBackward | MatMul |", resume.Out);
        Assert.Contains("| **outside ops** (host work, copies, waits) |", resume.Out);

        // sample generates from the GPT left to right; the diffusion sampler's own options are refused with the reason.
        string[] sampleGpt = ["sample", checkpoint, "--batch", "2", "--length", "12", "--prompt", "the", "--seed", "3",
            "--format", "jsonl", "--device", "cpu"];
        CliResult sampled = await CliRunner.Run(sampleGpt);
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        Sample[] generated = sampled.OutLines.Select(Sample.Parse).ToArray();
        Assert.Equal(2, generated.Length);
        int[] prompt = [Gpt2Tokenizer.Bos, .. Gpt2Tokenizer.Shared.Encode("the")];
        Assert.All(generated, s => Assert.Equal(prompt, s.Ids[..prompt.Length]));
        Assert.All(generated, s => Assert.InRange(s.Ids.Length, prompt.Length + 1, 12));
        Assert.StartsWith("Generated 2 sequence(s)", Assert.Single(sampled.ErrorLines));
        Assert.Equal(sampled.Out, (await CliRunner.Run(sampleGpt)).Out);
        CliResult steps = await CliRunner.Run("sample", checkpoint, "--steps", "8", "--device", "cpu");
        Assert.Equal(CliApplication.UsageError, steps.ExitCode);
        Assert.Contains("is a GPT checkpoint, which generates left to right with a KV cache: --steps applies to diffusion models only",
            steps.Error);

        CliResult info = await CliRunner.Run("info", checkpoint);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("Autoregressive checkpoint", info.Out);
        Assert.Contains(header.Model.ParameterCount().ToString("N0", CultureInfo.InvariantCulture), info.Out);

        CliResult condition = await CliRunner.Run(["train", "--data", shards, .. model, "--cond-dim", "8", "--steps", "1",
            "--device", "cpu", "-o", _temp.File("x.safetensors")]);
        Assert.Equal(1, condition.ExitCode);
        Assert.Contains("--cond-dim", Assert.Single(condition.ErrorLines));
    }

    [Fact]
    public async Task A_hugging_face_folder_is_inspected_and_sampled_like_a_checkpoint()
    {
        var config = TinyModels.CliDit;
        string folder = _temp.File("hf");
        using (Device device = Device.Create("cpu"))
        using (var model = new Dit(config, device, withGradients: false))
        {
            model.Initialize(seed: 2);
            HuggingFaceImport.Save(model.Parameters, folder);
        }

        CliResult info = await CliRunner.Run("info", folder);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("Hugging Face model", info.Out);
        Assert.Contains(config.ParameterCount().ToString("N0", CultureInfo.InvariantCulture), info.Out);

        CliResult sampled = await CliRunner.Run("sample", folder, "--steps", "4", "--batch", "3", "--format", "jsonl", "--device", "cpu");
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        Assert.Equal([16, 16, 16], sampled.OutLines.Select(line => Sample.Parse(line).Ids.Length));
    }

    private static string[] MetricKinds(string path) => File.ReadAllLines(path).Select(line =>
    {
        using var json = JsonDocument.Parse(line);
        return $"{json.RootElement.GetProperty("kind").GetString()} {json.RootElement.GetProperty("step").GetInt64()}";
    }).ToArray();

    private sealed record Sample(int Index, string Text, int[] Ids)
    {
        public static Sample Parse(string line)
        {
            using var json = JsonDocument.Parse(line);
            JsonElement root = json.RootElement;
            return new Sample(root.GetProperty("sample").GetInt32(), root.GetProperty("text").GetString()!,
                root.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32()).ToArray());
        }
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>The seed a <c>sample</c> run names in its summary line.</summary>
    private static string SeedOf(CliResult sampled) =>
        System.Text.RegularExpressions.Regex.Match(sampled.Error, "seed ([0-9]+),").Groups[1].Value;
}
