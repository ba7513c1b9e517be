using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Tests.LanguageModels;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The tiny random language models of the LanguageModels tests, loaded on the CPU test device for an engine.</summary>
internal sealed class ServingModels : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>A tiny diffusion student distilled for 4 steps (byte tokenizer, L 16).</summary>
    public DiffusionLanguageModel Diffusion() =>
        DiffusionLanguageModel.Load(TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("dit"), samplingSteps: 4), TinyModels.Cpu);

    /// <summary>A tiny GPT (byte tokenizer, L 16).</summary>
    public GptLanguageModel Gpt() => GptLanguageModel.Load(TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt")), TinyModels.Cpu);

    /// <summary>A request that keeps a diffusion batch busy until cancelled (steps are cheap once every token is revealed).</summary>
    public static TextRequest Endless(string prompt = "a") => new() { Prompt = prompt, Steps = 1_000_000, Temperature = 0.5f };

    /// <summary>Starts streaming <paramref name="request"/> and returns once its batch runs (its first update arrived).</summary>
    public static async Task<(IAsyncEnumerator<TextUpdate> Stream, Task Drained)> StartRunning(TextGenerationEngine engine,
        TextRequest request, CancellationToken cancellationToken)
    {
        IAsyncEnumerator<TextUpdate> stream = engine.StreamAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        Assert.True(await stream.MoveNextAsync());
        return (stream, Drain(stream));
    }

    private static async Task Drain(IAsyncEnumerator<TextUpdate> stream)
    {
        await using (stream)
            while (await stream.MoveNextAsync())
            {
            }
    }

    public void Dispose() => _temp.Dispose();
}
