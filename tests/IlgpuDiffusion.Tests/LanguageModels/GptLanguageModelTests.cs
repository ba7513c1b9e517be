using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.LanguageModels;

/// <summary>The high-level GPT API: loading by repository id, KV-cached generation from text, streaming, cancellation, saving.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class GptLanguageModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _hub;

    public GptLanguageModelTests()
    {
        _hub = _temp.File("hub");
        FakeHubCache.Add(_hub, "org/tiny-gpt", TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt")));
    }

    private GptLanguageModel LoadGpt() =>
        GptLanguageModel.Load("org/tiny-gpt", TinyModels.Cpu, new ModelLoadOptions { HubCache = _hub });

    [Fact]
    public void Generate_with_a_seed_gives_the_decoders_text()
    {
        using GptLanguageModel model = LoadGpt();

        IReadOnlyList<string> texts = model.Generate("ab", new GenerationOptions { Samples = 2, Seed = 3, Length = 12 });

        int[] prompt = [model.Tokenizer.Bos, .. model.Tokenizer.Encode("ab")];
        using var decoder = new GptDecoder(model.Model, 2, 12, prompt.Length,
            new GptSamplingOptions { Seed = 3, EndOfText = model.Tokenizer.Eos });
        GptGenerationResult expected = decoder.Generate([prompt]);
        Assert.Equal(expected.Tokens.Select(ids => model.Tokenizer.Decode(ids[^1] == model.Tokenizer.Eos ? ids[1..^1] : ids[1..])),
            texts);
        Assert.All(texts, text => Assert.StartsWith("ab", text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Streaming_yields_token_by_token_and_a_cancelled_run_leaves_the_model_usable()
    {
        using GptLanguageModel model = LoadGpt();
        var options = new GenerationOptions { Seed = 6, Temperature = 0f };
        IReadOnlyList<string> before = model.Generate("a", options);
        Assert.ThrowsAny<OperationCanceledException>(() => model.Generate("a", options, new CancellationToken(canceled: true)));

        using var cancellation = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (GenerationSnapshot snapshot in model.StreamAsync("a", options, cancellation.Token))
                if (++seen == 1) await cancellation.CancelAsync();
        });
        Assert.Equal(1, seen);

        var snapshots = new List<GenerationSnapshot>();
        await foreach (GenerationSnapshot snapshot in model.StreamAsync("a", options)) snapshots.Add(snapshot);
        Assert.Equal(Enumerable.Range(1, snapshots.Count), snapshots.Select(snapshot => snapshot.Step));
        Assert.True(snapshots[^1].IsFinal);
        Assert.Equal(before, snapshots[^1].Texts);
        Assert.Equal(before, model.Generate("a", options));
    }

    [Fact]
    public void Denoising_steps_and_a_prompt_filling_the_length_are_refused()
    {
        using GptLanguageModel model = LoadGpt();

        Assert.Contains("diffusion models only", Assert.Throws<ArgumentException>(
            () => model.Generate("a", new GenerationOptions { Steps = 4 })).Message);
        Assert.Contains("leaving none", Assert.Throws<ArgumentException>(
            () => model.Generate("abcdef", new GenerationOptions { Length = 4 })).Message);
        Assert.Contains("at least 1 sample", Assert.Throws<ArgumentException>(
            () => model.Generate("a", new GenerationOptions { Samples = 0 })).Message);
    }

    [Fact]
    public void SavePretrained_writes_a_gpt2_folder_that_generates_the_same_text()
    {
        using GptLanguageModel model = LoadGpt();
        string folder = _temp.File("saved");

        model.SavePretrained(folder);

        using GptLanguageModel again = GptLanguageModel.Load(folder, TinyModels.Cpu);
        Assert.Equal(model.Config, again.Config);
        Assert.Equal(model.Generate("a"), again.Generate("a"));
    }

    public void Dispose() => _temp.Dispose();
}
