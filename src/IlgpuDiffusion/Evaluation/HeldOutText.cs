using System.Runtime.InteropServices;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Evaluation;

/// <summary>A prompt cut from a held-out sequence and the tokens that truly follow it.</summary>
/// <param name="Prompt">The first tokens of the sequence.</param>
/// <param name="Reference">The next tokens: the human continuation MAUVE compares model continuations with.</param>
internal sealed record HeldOutPrompt(int[] Prompt, int[] Reference)
{
    /// <summary>Prompt then reference: the reference text as MAUVE featurizes it (the whole first P + C tokens).</summary>
    public int[] Sequence() => [.. Prompt, .. Reference];
}

/// <summary>
/// Held-out text from validation shards (documents the models never trained on): prompts with their true
/// continuations for MAUVE and self-BLEU, and decoded documents for the LAMBADA-style cloze.
/// </summary>
internal static class HeldOutText
{
    /// <summary>
    /// <paramref name="count"/> prompts of <paramref name="promptLength"/> tokens with the <paramref name="referenceLength"/>
    /// tokens that follow, from the starts of validation sequences spread evenly over the split (sequence
    /// ⌊i·N/count⌋ for prompt i). Sequences start with BOS, as the models saw them in training.
    /// </summary>
    /// <exception cref="ArgumentException">The split holds fewer sequences than prompts, or prompt + reference exceed a
    /// sequence.</exception>
    public static IReadOnlyList<HeldOutPrompt> Prompts(TokenShardSet validation, int count, int promptLength, int referenceLength)
    {
        CheckPrompts(validation, count, promptLength, referenceLength);
        var sequence = new int[validation.SequenceLength];
        var prompts = new HeldOutPrompt[count];
        for (int i = 0; i < count; i++)
        {
            validation.CopySequence(i * validation.SequenceCount / count, sequence);
            prompts[i] = new HeldOutPrompt(sequence[..promptLength], sequence[promptLength..(promptLength + referenceLength)]);
        }
        return prompts;
    }

    /// <summary>Checks that <paramref name="validation"/> holds what <see cref="Prompts"/> is asked to cut from it.</summary>
    /// <exception cref="ArgumentException">The split holds fewer sequences than prompts, or prompt + reference exceed a
    /// sequence.</exception>
    public static void CheckPrompts(TokenShardSet validation, int count, int promptLength, int referenceLength)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(referenceLength, 1);
        if (promptLength + referenceLength > validation.SequenceLength)
            throw new ArgumentException($"A prompt of {promptLength} and a continuation of {referenceLength} tokens " +
                $"exceed the validation sequences of {validation.SequenceLength}.");
        if (validation.SequenceCount < count)
            throw new ArgumentException($"The validation split holds {validation.SequenceCount} sequences, " +
                $"fewer than the {count} prompts asked for.", nameof(count));
    }

    /// <summary>
    /// The held-out documents as text: the validation sequences were packed by <see cref="MdlmSequencePacker"/>
    /// ([BOS] + chunk + [EOS], chunks consecutive), so their chunks concatenated give back the document stream, which
    /// splits at EOS. The last document may be cut where the packer dropped its remainder.
    /// </summary>
    /// <param name="tokenizer">The tokenizer that made the shards: it gives EOS and decodes.</param>
    /// <param name="maxSequences">Read at most this many sequences (null: all).</param>
    public static IReadOnlyList<string> Documents(TokenShardSet validation, Tokenizer tokenizer, long? maxSequences = null)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(tokenizer);
        long sequences = Math.Min(validation.SequenceCount, maxSequences ?? long.MaxValue);
        var documents = new List<string>();
        var sequence = new int[validation.SequenceLength];
        var current = new List<int>();
        for (long s = 0; s < sequences; s++)
        {
            validation.CopySequence(s, sequence);
            foreach (int id in sequence.AsSpan(1, sequence.Length - 2))
            {
                if (id != tokenizer.Eos)
                {
                    current.Add(id);
                    continue;
                }
                if (current.Count > 0) documents.Add(tokenizer.Decode(CollectionsMarshal.AsSpan(current)));
                current.Clear();
            }
        }
        if (current.Count > 0) documents.Add(tokenizer.Decode(CollectionsMarshal.AsSpan(current)));
        return documents;
    }
}
