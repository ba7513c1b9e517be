using IlgpuDiffusion.Models.Safetensors;

namespace IlgpuDiffusion.Models;

/// <summary>
/// A model built to receive weights (from a checkpoint or a Hugging Face folder) owns device memory the caller never
/// sees if loading fails: <see cref="Fill"/> disposes it before the error propagates. Its config comes from a file, so
/// <see cref="CheckWeightsFit"/> first checks that the weights file could fill a model of that size.
/// </summary>
internal static class LoadedModel
{
    /// <summary>
    /// Throws unless <paramref name="weights"/> holds the bytes of at least <paramref name="parameterCount"/> parameters
    /// of <paramref name="bytesPerParameter"/> bytes each: a config that asks for more layers or width than its weights
    /// hold is refused before a model of its size is allocated.
    /// </summary>
    /// <param name="config">Where the config was read and its sizes, for the message.</param>
    /// <exception cref="InvalidDataException">The weights are too few; the message names the config and the file.</exception>
    public static void CheckWeightsFit(SafetensorsReader weights, long parameterCount, int bytesPerParameter, string config)
    {
        Int128 needed = (Int128)parameterCount * bytesPerParameter;
        if (needed > weights.DataLength)
            throw new InvalidDataException($"{config} describes a model of {parameterCount} parameters, at least {needed} bytes " +
                $"of weights, but '{weights.Path}' holds {weights.DataLength} bytes of tensors: the config does not match the weights.");
    }

    /// <summary>Runs <paramref name="load"/> on the new <paramref name="model"/> and returns it; disposes it if loading throws.</summary>
    public static TModel Fill<TModel>(TModel model, Action<TModel> load) where TModel : IDisposable
    {
        try
        {
            load(model);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
