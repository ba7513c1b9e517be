using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>
/// How every command loads a model it is given: a checkpoint file, a Hugging Face model folder or a repository id in the
/// local Hugging Face cache, resolved by <see cref="ModelSource"/>.
/// </summary>
internal static class ModelLoading
{
    /// <summary>
    /// The diffusion model of <paramref name="source"/>: a checkpoint's EMA weights unless <paramref name="rawWeights"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="rawWeights"/> on a model folder, which holds one set of weights.</exception>
    /// <exception cref="InvalidOperationException">The source holds an autoregressive model.</exception>
    public static Dit LoadDiffusion(ModelSource source, Device device, bool rawWeights = false)
    {
        RequireWeightsChoice(source, rawWeights);
        return source.LoadDiffusion(device, useEma: !rawWeights);
    }

    /// <summary>
    /// The autoregressive model of <paramref name="source"/>: a checkpoint's EMA weights unless <paramref name="rawWeights"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="rawWeights"/> on a model folder, which holds one set of weights.</exception>
    /// <exception cref="InvalidOperationException">The source holds a diffusion model.</exception>
    public static Gpt LoadGpt(ModelSource source, Device device, bool rawWeights = false)
    {
        RequireWeightsChoice(source, rawWeights);
        return source.LoadGpt(device, useEma: !rawWeights);
    }

    private static void RequireWeightsChoice(ModelSource source, bool rawWeights)
    {
        if (rawWeights && source.Format == ModelFormat.HuggingFaceFolder)
            throw new ArgumentException($"--raw-weights applies to training checkpoints; the Hugging Face model '{source.Given}' " +
                "has one set of weights.");
    }
}
