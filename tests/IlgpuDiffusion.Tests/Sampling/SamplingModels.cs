using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Models;

namespace IlgpuDiffusion.Tests.Sampling;

/// <summary>Toy denoisers for the sampler tests: tiny DiTs (V 32 with MASK 31, L 16) with random weights, so their predictions depend on the context.</summary>
internal static class SamplingModels
{
    public const int Length = 16, Vocab = 32, Mask = Vocab - 1;

    public static DitConfig Config(bool timeConditioning = false) => new()
    {
        Layers = 2,
        Hidden = 16,
        Heads = 2,
        CondDim = 8,
        Vocab = Vocab,
        Length = Length,
        Dropout = 0f,
        TimeConditioning = timeConditioning,
    };

    /// <summary>A random-weight model on <paramref name="backend"/>.</summary>
    public static Dit Random(string backend = "cpu", int seed = 5, bool timeConditioning = false)
    {
        var model = new Dit(Config(timeConditioning), TestBackends.Get(backend), withGradients: false);
        TinyDit.Randomize(model.Parameters, seed);
        return model;
    }
}
