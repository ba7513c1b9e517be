namespace IlgpuDiffusion.Models;

/// <summary>
/// A model built to receive weights (from a checkpoint or a Hugging Face folder) owns device memory the caller never
/// sees if loading fails: <see cref="Fill"/> disposes it before the error propagates.
/// </summary>
internal static class LoadedModel
{
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
