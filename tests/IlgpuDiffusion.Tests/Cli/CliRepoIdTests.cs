using System.Text.Json;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Tests.LanguageModels;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>info</c>, <c>sample</c>, <c>export</c> and <c>eval</c> take a Hugging Face repository id found in the local cache. The
/// tool runs as a child process whose own environment names the cache (HF_HUB_CACHE), so no other test sees it.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class CliRepoIdTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private readonly TempDirectory _temp = new();
    private readonly Dictionary<string, string> _environment;

    public CliRepoIdTests()
    {
        string hub = _temp.File("hub");
        FakeHubCache.Add(hub, "org/tiny-student", TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("student"), 4));
        FakeHubCache.Add(hub, "org/tiny-gpt", TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt")));
        _environment = new Dictionary<string, string> { ["HF_HUB_CACHE"] = hub, ["HF_HOME"] = _temp.File("unused") };
    }

    [Fact]
    public void Info_sample_export_and_eval_load_a_repo_id_from_the_cache()
    {
        var (info, infoOutput) = Run("info", "org/tiny-student");
        Assert.True(info == 0, infoOutput);
        Assert.Contains("org/tiny-student", infoOutput);
        Assert.Contains("SDTT student, distilled for 4 sampling steps", infoOutput);
        Assert.Contains(TinyLanguageModels.Dit.ParameterCount().ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
            infoOutput);

        var (gptInfo, gptInfoOutput) = Run("info", "org/tiny-gpt");
        Assert.True(gptInfo == 0, gptInfoOutput);
        Assert.Contains("GPT (autoregressive)", gptInfoOutput);

        var (sample, sampleOutput) = Run("sample", "org/tiny-student", "--batch", "1", "--device", "cpu");
        Assert.True(sample == 0, sampleOutput);
        Assert.Contains("4 steps (the student's own)", sampleOutput);

        string exported = _temp.File("exported");
        var (export, exportOutput) = Run("export", "org/tiny-student", "-o", exported);
        Assert.True(export == 0, exportOutput);
        Assert.Equal(4, HuggingFaceConfig.ReadSamplingSteps(Path.Combine(exported, HuggingFaceConfig.FileName)));

        var (eval, evalOutput) = Run("eval", "org/tiny-student", "--ar", "org/tiny-gpt", "--parts", "genppl", "--steps", "2",
            "--samples", "2", "--length", "16", "--batch", "2", "--device", "cpu", "-o", _temp.File("eval"));
        Assert.True(eval == 0, evalOutput);
        using var report = JsonDocument.Parse(File.ReadAllText(_temp.File("eval/evaluation.json")));
        Assert.Contains("tiny-student", report.RootElement.GetRawText());
        Assert.Contains("tiny-gpt", report.RootElement.GetRawText());
    }

    [Fact]
    public void A_repo_id_missing_from_the_cache_is_an_error_that_says_how_to_download_it()
    {
        var (exit, output) = Run("sample", "org/absent", "--device", "cpu");

        Assert.Equal(1, exit);
        Assert.Contains("huggingface-cli download org/absent", output);
        Assert.Contains(_temp.File("hub"), output);
    }

    private (int ExitCode, string Output) Run(params string[] args)
    {
        using CliProcess child = CliProcess.Start(_environment, args);
        int exit = child.WaitForExit(Timeout);
        return (exit, child.Output);
    }

    public void Dispose() => _temp.Dispose();
}
