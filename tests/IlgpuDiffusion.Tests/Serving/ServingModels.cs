using IlgpuDiffusion.Models;
using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Tests.LanguageModels;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>The tiny random language models of the LanguageModels tests, loaded on the CPU test device for an engine.</summary>
internal sealed class ServingModels : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>A tiny diffusion student distilled for 4 steps (byte tokenizer, L <paramref name="length"/>).</summary>
    /// <param name="length">Tokens per sequence.</param>
    /// <param name="backend">The test backend the model is loaded on.</param>
    public DiffusionLanguageModel Diffusion(int length = 16, string backend = "cpu")
    {
        string folder = _temp.File($"dit-{length}-{backend}");
        using (var model = new Dit(TinyLanguageModels.Dit with { Length = length }, TinyModels.Cpu, withGradients: false))
        {
            TinyModels.Randomize(model.Parameters, seed: 7);
            HuggingFaceImport.Save(model.Parameters, folder, samplingSteps: 4);
        }
        return DiffusionLanguageModel.Load(folder, TestBackends.Get(backend));
    }

    /// <summary>A tiny random GPT (byte tokenizer, L <paramref name="length"/>).</summary>
    public GptLanguageModel Gpt(int length = 16)
    {
        string folder = _temp.File($"gpt-{length}");
        GptConfig config = TinyLanguageModels.Gpt with { Length = length };
        using (var model = new Gpt(config, TinyModels.Cpu, withGradients: false))
        {
            TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 9));
            GptHuggingFace.Save(model.Parameters, folder);
        }
        return GptLanguageModel.Load(folder, TinyModels.Cpu);
    }

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
