using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>The progress <c>sample</c> shows on a terminal: every step or token reported, the same samples as without it.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class SamplingProgressTests
{
    [Fact]
    public void Diffusion_sampling_reports_every_step_and_draws_what_Sample_draws()
    {
        using var model = new Dit(TinyModels.SamplerDit(timeConditioning: true), TinyModels.Cpu, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 6);
        var options = new SamplerOptions { Steps = 5, BatchSize = 2, Seed = 7 };
        using var sampler = new DiffusionSampler(model, options);
        int[] expected = sampler.Sample().Ids;
        var reports = new List<(long Done, long Total)>();
        SamplingResult shown = sampler.Sample(progress: new StepCountBar((done, total) => reports.Add((done, total))));
        Assert.Equal(expected, shown.Ids);
        Assert.Equal([(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)], reports);
    }

    [Fact]
    public void Gpt_sampling_reports_its_tokens_and_decodes_what_Generate_decodes()
    {
        var config = TinyModels.RandomGpt();
        using var model = new Gpt(config, TinyModels.Cpu, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 8));
        using var decoder = new GptDecoder(model, batchSize: 2, capacity: config.Length, maxPromptLength: 2,
            new GptSamplingOptions { Seed = 9 });
        int[][] prompts = [[1, 2], [3, 4]];
        GptGenerationResult expected = decoder.Generate(prompts);
        var reports = new List<(long Done, long Total)>();
        GptGenerationResult shown = GptSampleRun.GenerateShowingTokens(decoder, prompts, config.Length,
            (done, total) => reports.Add((done, total)), CancellationToken.None);
        Assert.Equal(expected.Tokens, shown.Tokens);
        long tokens = config.Length - 2;
        Assert.All(reports, report => Assert.Equal(tokens, report.Total));
        Assert.Equal(0, reports[0].Done);
        Assert.Equal(tokens, reports[^1].Done);
        Assert.Equal(reports.Select(r => r.Done).Order(), reports.Select(r => r.Done));
    }
}
