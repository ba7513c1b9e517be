using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.LanguageModels;

/// <summary>The high-level diffusion API: loading by repository id, text in and out, seeds, streaming, cancellation, saving.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DiffusionLanguageModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _hub;

    public DiffusionLanguageModelTests()
    {
        _hub = _temp.File("hub");
        FakeHubCache.Add(_hub, "org/tiny-student", TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("student"), 4));
    }

    private DiffusionLanguageModel LoadStudent() =>
        DiffusionLanguageModel.Load("org/tiny-student", TinyModels.Cpu, new ModelLoadOptions { HubCache = _hub });

    [Fact]
    public void Generate_with_a_seed_gives_the_samplers_text_in_the_students_own_steps()
    {
        using DiffusionLanguageModel model = LoadStudent();
        Assert.Equal(4, model.SamplingSteps);

        IReadOnlyList<string> texts = model.Generate("ab", new GenerationOptions { Samples = 2, Seed = 3 });

        using var sampler = new DiffusionSampler(model.Model, new SamplerOptions { Steps = 4, BatchSize = 2, Seed = 3 });
        SamplingResult expected = sampler.Sample(SamplingPrompt.Prefix([model.Tokenizer.Bos, .. model.Tokenizer.Encode("ab")]));
        Assert.Equal([Text(model, expected, 0), Text(model, expected, 1)], texts);
        Assert.All(texts, text => Assert.StartsWith("ab", text, StringComparison.Ordinal));
        Assert.NotEqual(texts, model.Generate("ab", new GenerationOptions { Samples = 2, Seed = 4 }));
    }

    [Fact]
    public void A_cancelled_generation_throws_and_leaves_the_model_usable()
    {
        using DiffusionLanguageModel model = LoadStudent();
        var options = new GenerationOptions { Steps = 8, Seed = 5 };
        IReadOnlyList<string> before = model.Generate("a", options);

        Assert.ThrowsAny<OperationCanceledException>(() => model.Generate("a", options, new CancellationToken(canceled: true)));
        Assert.ThrowsAny<OperationCanceledException>(() => model.Infill("a", "b", options, new CancellationToken(canceled: true)));

        Assert.Equal(before, model.Generate("a", options));
    }

    [Fact]
    public async Task A_stream_cancelled_between_steps_stops_there_and_the_model_stays_usable()
    {
        using DiffusionLanguageModel model = LoadStudent();
        var options = new GenerationOptions { Steps = 8, Seed = 5 };
        using var cancellation = new CancellationTokenSource();
        int seen = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (GenerationSnapshot snapshot in model.StreamAsync("a", options, cancellation.Token))
                if (++seen == 2) await cancellation.CancelAsync();
        });

        Assert.Equal(2, seen);
        var snapshots = new List<GenerationSnapshot>();
        await foreach (GenerationSnapshot snapshot in model.StreamAsync("a", options)) snapshots.Add(snapshot);
        Assert.Equal(9, snapshots.Count);
        Assert.Contains(IlgpuDiffusion.Data.Tokenizer.MaskText, snapshots[0].Texts[0]);
        Assert.True(snapshots[^1].IsFinal);
        Assert.Equal(model.Generate("a", options), snapshots[^1].Texts);
    }

    [Fact]
    public void Infill_keeps_the_prefix_and_the_suffix()
    {
        using DiffusionLanguageModel model = LoadStudent();

        string text = Assert.Single(model.Infill("ab", "yz", new GenerationOptions { Seed = 2 }));

        Assert.StartsWith("ab", text, StringComparison.Ordinal);
        Assert.EndsWith("yz", text, StringComparison.Ordinal);
    }

    [Fact]
    public void SavePretrained_writes_a_folder_that_loads_with_the_same_steps_and_text()
    {
        using DiffusionLanguageModel model = LoadStudent();
        string folder = _temp.File("saved");

        model.SavePretrained(folder);

        Assert.Equal(4, HuggingFaceConfig.ReadSamplingSteps(Path.Combine(folder, HuggingFaceConfig.FileName)));
        using DiffusionLanguageModel again = DiffusionLanguageModel.Load(folder, TinyModels.Cpu);
        Assert.Equal(4, again.SamplingSteps);
        Assert.Equal(model.Generate("a"), again.Generate("a"));
    }

    [Fact]
    public void A_model_loaded_without_a_device_opens_its_own()
    {
        using DiffusionLanguageModel model = DiffusionLanguageModel.Load(_temp.File("student"));

        Assert.NotSame(TinyModels.Cpu, model.Model.Device);
        Assert.Single(model.Generate());
    }

    private static string Text(DiffusionLanguageModel model, SamplingResult result, int sequence)
    {
        ReadOnlySpan<int> ids = result.Sequence(sequence);
        return model.Tokenizer.Decode(ids[^1] == model.Tokenizer.Eos ? ids[1..^1] : ids[1..]);
    }

    public void Dispose() => _temp.Dispose();
}
