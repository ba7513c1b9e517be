namespace IlgpuDiffusion.Sampling;

/// <summary>
/// The state of a running <see cref="GptDecoder"/>, as its streaming API yields it after every drawn token (and as
/// <see cref="GptDecoder.Progress"/> shows it). One instance is reused for the whole run: read it before asking for the next one.
/// </summary>
public sealed class GptGenerationProgress
{
    private readonly int[] _tokens;
    private readonly int[] _lengths;

    internal GptGenerationProgress(int[] tokens, int[] lengths, int capacity)
    {
        _tokens = tokens;
        _lengths = lengths;
        Capacity = capacity;
    }

    /// <summary>Sequences decoded together.</summary>
    public int BatchSize => _lengths.Length;

    /// <summary>Most tokens per sequence, prompt included.</summary>
    public int Capacity { get; }

    /// <summary>Tokens per sequence so far (prompt included); every sequence is this long, finished ones padded with end-of-text.</summary>
    public int Position { get; internal set; }

    /// <summary>The prompt length.</summary>
    public int PromptLength { get; internal set; }

    /// <summary>Whether decoding has ended (every sequence finished, or the capacity is reached).</summary>
    public bool IsFinal { get; internal set; }

    /// <summary>The first <see cref="Position"/> tokens of sequence <paramref name="sequence"/>.</summary>
    public ReadOnlySpan<int> Sequence(int sequence)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sequence, BatchSize);
        return _tokens.AsSpan(sequence * Capacity, Position);
    }

    /// <summary>Whether sequence <paramref name="sequence"/> has produced its end-of-text token.</summary>
    public bool IsFinished(int sequence) => _lengths[sequence] > 0;

    /// <summary>
    /// Tokens of sequence <paramref name="sequence"/> up to and including its end-of-text, or <see cref="Position"/> while it runs.
    /// </summary>
    public int Length(int sequence) => _lengths[sequence] > 0 ? _lengths[sequence] : Position;
}

/// <summary>The sequences a <see cref="GptDecoder"/> produced.</summary>
/// <param name="Tokens">Per sequence its tokens, the prompt first, cut after its end-of-text token when it produced one.</param>
/// <param name="PromptLength">Tokens of the prompt at the start of each sequence.</param>
/// <param name="ForwardPasses">Model passes run: the prefill plus one per generated position but the last.</param>
public sealed record GptGenerationResult(IReadOnlyList<int[]> Tokens, int PromptLength, int ForwardPasses);
