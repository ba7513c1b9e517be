using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Serving;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The engine of <c>serve</c> over the model it loaded; disposing frees both.</summary>
internal sealed class LoadedEngine : IDisposable
{
    private readonly IDisposable _model;

    private LoadedEngine(TextGenerationEngine engine, IDisposable model)
    {
        Engine = engine;
        _model = model;
    }

    /// <summary>The engine.</summary>
    public TextGenerationEngine Engine { get; }

    /// <summary>Loads the model of <paramref name="source"/> onto <paramref name="device"/>, a diffusion model or a GPT.</summary>
    public static LoadedEngine Open(ModelSource source, Device device, TextEngineOptions options)
    {
        if (source.Kind == ModelKind.Autoregressive)
        {
            var gpt = new GptLanguageModel(ModelLoading.LoadGpt(source, device));
            return new LoadedEngine(TextGenerationEngine.ForGpt(gpt, options), new Owned(gpt, gpt.Model));
        }
        var diffusion = new DiffusionLanguageModel(ModelLoading.LoadDiffusion(source, device), source.SamplingSteps);
        return new LoadedEngine(TextGenerationEngine.ForDiffusion(diffusion, options), new Owned(diffusion, diffusion.Model));
    }

    /// <summary>Stops the engine, then frees the model.</summary>
    public void Dispose()
    {
        Engine.Dispose();
        _model.Dispose();
    }

    /// <summary>A wrapper and the model it does not own.</summary>
    private sealed class Owned(IDisposable wrapper, IDisposable model) : IDisposable
    {
        public void Dispose()
        {
            wrapper.Dispose();
            model.Dispose();
        }
    }
}
