namespace IlgpuDiffusion.Cli.Serving;

/// <summary>Where the server listens and what it defaults to.</summary>
/// <param name="Host">The address to bind (127.0.0.1: this machine only).</param>
/// <param name="Port">The TCP port; 0 picks a free one (see <see cref="CompletionServer.Address"/>).</param>
/// <param name="MaxBatch">The most completions one request may ask for (<c>n</c>), the engine's batch.</param>
/// <param name="DefaultSteps">Denoising steps of requests that name none; null: the model's own.</param>
internal sealed record ServerOptions(string Host = "127.0.0.1", int Port = 8000, int MaxBatch = 16, int? DefaultSteps = null)
{
    /// <summary>The largest request body accepted (1 MiB); a larger one is answered 413.</summary>
    public const long MaxBodyBytes = 1 << 20;
}
