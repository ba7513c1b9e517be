namespace IlgpuDiffusion.Serving;

/// <summary>What a <see cref="TextGenerationEngine"/> needs from a kind of model: checking requests and running batches.</summary>
internal abstract class BatchBackend
{
    /// <summary>The model's length: the longest window.</summary>
    public abstract int MaxLength { get; }

    /// <summary>Whether the model is a diffusion model.</summary>
    public abstract bool IsDiffusion { get; }

    /// <summary>Validates and tokenizes <paramref name="request"/>.</summary>
    /// <exception cref="ArgumentException">A setting is out of range or unsupported; the message says which.</exception>
    public abstract PreparedRequest Prepare(TextRequest request, TextEngineOptions options);

    /// <summary>
    /// Runs <paramref name="batch"/> (compatible requests, in order) as one model run: publishes each streaming request's
    /// states, completes each request, and stops early once every request has finished (cancelled).
    /// </summary>
    /// <param name="seed">The run's seed.</param>
    /// <returns>The model forward passes the run took.</returns>
    public abstract Task<int> RunAsync(IReadOnlyList<PendingRequest> batch, ulong seed, CancellationToken cancellationToken);

    /// <summary>The user-facing check of the settings every model shares.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    protected static void ValidateCommon(TextRequest request, TextEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Prompt is null) throw new ArgumentException("The prompt must be a text (it may be empty), not null.");
        if (request.MaxTokens is < 1) throw new ArgumentException($"MaxTokens must be at least 1; got {request.MaxTokens}.");
        if (!(request.Temperature >= 0) || float.IsInfinity(request.Temperature))
            throw new ArgumentException($"Temperature must be finite and at least 0 (0: greedy); got {request.Temperature}.");
        if (!(request.TopP > 0 && request.TopP <= 1)) throw new ArgumentException($"TopP must be in (0, 1]; got {request.TopP}.");
        if (request.Samples < 1 || request.Samples > options.MaxBatch)
            throw new ArgumentException($"Samples must be in [1, {options.MaxBatch}] (the engine's batch); got {request.Samples}.");
        if (request.Steps is < 1) throw new ArgumentException($"Steps must be at least 1; got {request.Steps}.");
    }

    /// <summary>The window of a request with these fixed tokens; checks that it fits the model.</summary>
    /// <exception cref="ArgumentException">The prompt and the new tokens do not fit, or no position is left.</exception>
    protected int Window(TextRequest request, int fixedTokens)
    {
        if (request.MaxTokens is int maxTokens)
        {
            if ((long)fixedTokens + maxTokens > MaxLength)
                throw new ArgumentException($"The prompt takes {fixedTokens} tokens (BOS/EOS included) and the completion asks " +
                    $"for {maxTokens} more: {fixedTokens + (long)maxTokens} exceeds the model's length of {MaxLength} tokens.",
                    nameof(TextRequest.Prompt));
            return fixedTokens + maxTokens;
        }
        if (fixedTokens >= MaxLength)
            throw new ArgumentException($"The prompt takes {fixedTokens} tokens (BOS/EOS included), leaving none of the model's " +
                $"{MaxLength} to generate; shorten it.", nameof(TextRequest.Prompt));
        return MaxLength;
    }
}
