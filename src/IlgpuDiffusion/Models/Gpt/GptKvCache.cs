using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// The decoding state of a <see cref="Gpt"/>: every block's keys and values of the positions seen so far
/// ([batch, heads, capacity, headDim] each, one arena), an inference activation arena for up to
/// <see cref="MaxNewTokens"/> new tokens per sequence and pass, and the head input of each sequence's last token.
/// Made by <see cref="Gpt.CreateCache"/>; <see cref="Gpt.ForwardCached"/> advances it. Not thread-safe.
/// </summary>
public sealed class GptKvCache : IDisposable
{
    private readonly Arena<float> _arena;

    internal GptKvCache(GptConfig config, Device device, int batch, int capacity, int maxNewTokens)
    {
        if (capacity < 1 || capacity > config.Length)
            throw new ArgumentOutOfRangeException(nameof(capacity),
                $"The cache capacity must be in [1, {config.Length}] (the config's length); got {capacity}.");
        if (maxNewTokens < 1 || maxNewTokens > capacity)
            throw new ArgumentOutOfRangeException(nameof(maxNewTokens),
                $"New tokens per pass must be in [1, {capacity}]; got {maxNewTokens}.");
        if ((long)batch * config.Heads * capacity * config.HeadDim > int.MaxValue)
            throw new ArgumentException($"A KV cache of batch {batch} × capacity {capacity} exceeds {int.MaxValue} floats per block; " +
                "use smaller batches.");
        Config = config;
        Batch = batch;
        Capacity = capacity;
        var layout = new ArenaLayout<float>();
        var cacheShape = new Shape(batch, config.Heads, capacity, config.HeadDim);
        for (int l = 0; l < config.Layers; l++)
        {
            layout.Add($"h.{l}.keys", cacheShape);
            layout.Add($"h.{l}.values", cacheShape);
        }
        layout.Add("last_rows", new Shape(batch, config.Hidden));
        _arena = layout.Allocate(device);
        Keys = Enumerable.Range(0, config.Layers).Select(l => _arena[$"h.{l}.keys"]).ToArray();
        Values = Enumerable.Range(0, config.Layers).Select(l => _arena[$"h.{l}.values"]).ToArray();
        LastRows = _arena["last_rows"];
        Activations = new GptActivations(config, device, batch, maxNewTokens, batch, training: false);
        LastRowIndices = device.AllocateTensor<int>(new Shape(batch));
        LastRowIndicesHost = new int[batch];
    }

    /// <summary>The model shape.</summary>
    public GptConfig Config { get; }

    /// <summary>Sequences decoded together.</summary>
    public int Batch { get; }

    /// <summary>Most positions the cache holds (prompt and generated tokens).</summary>
    public int Capacity { get; }

    /// <summary>Most new tokens per sequence in one <see cref="Gpt.ForwardCached"/> call (the longest prompt).</summary>
    public int MaxNewTokens => Activations.Tokens;

    /// <summary>Positions cached so far: the position of the next token.</summary>
    public int Position { get; internal set; }

    /// <summary>Forgets every cached position (the tensors are overwritten as decoding proceeds).</summary>
    public void Reset() => Position = 0;

    /// <summary>Keys of block l [batch, heads, capacity, headDim].</summary>
    internal IReadOnlyList<Tensor<float>> Keys { get; }

    /// <summary>Values of block l [batch, heads, capacity, headDim].</summary>
    internal IReadOnlyList<Tensor<float>> Values { get; }

    /// <summary>The final-LayerNorm output of each sequence's last new token [batch, D]: the head input.</summary>
    internal Tensor<float> LastRows { get; }

    /// <summary>Rows b·newTokens + newTokens − 1 [batch], for the last value of <see cref="LastRowsTokens"/>.</summary>
    internal Tensor<int> LastRowIndices { get; }

    /// <summary>Host staging of <see cref="LastRowIndices"/> [batch].</summary>
    internal int[] LastRowIndicesHost { get; }

    /// <summary>The newTokens <see cref="LastRowIndices"/> was uploaded for (0: never).</summary>
    internal int LastRowsTokens { get; set; }

    /// <summary>The working set of the passes.</summary>
    internal GptActivations Activations { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        _arena.Dispose();
        Activations.Dispose();
        LastRowIndices.Buffer.Dispose();
    }
}
