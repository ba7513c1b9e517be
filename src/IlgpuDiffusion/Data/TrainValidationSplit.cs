namespace IlgpuDiffusion.Data;

/// <summary>
/// Assigns whole documents to training or validation: exactly
/// round(<c>fraction</c> × documents) documents (at least one when the fraction is positive),
/// chosen by a seeded shuffle of document indices. The same count, fraction and seed always
/// give the same split.
/// </summary>
internal sealed class TrainValidationSplit
{
    private readonly bool[] _isValidation;

    /// <summary>Chooses the validation documents among <paramref name="documentCount"/> documents.</summary>
    /// <param name="validationFraction">Share of documents held out, in [0, 1).</param>
    /// <param name="seed">Seed of the shuffle that picks the documents.</param>
    /// <exception cref="InvalidDataException">The fraction would leave no training document.</exception>
    public TrainValidationSplit(int documentCount, double validationFraction, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(documentCount);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction,
                "The validation fraction must be in [0, 1).");
        int count = (int)Math.Round(validationFraction * documentCount, MidpointRounding.AwayFromZero);
        if (validationFraction > 0 && count == 0) count = 1;
        if (count >= documentCount && documentCount > 0)
            throw new InvalidDataException($"A validation fraction of {validationFraction} holds out all {documentCount} document(s) " +
                "and leaves none for training. Use a smaller fraction or a larger corpus.");
        int[] order = new int[documentCount];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        new SplitMix64(seed).Shuffle(order);
        _isValidation = new bool[documentCount];
        foreach (int index in order.AsSpan(0, count)) _isValidation[index] = true;
        ValidationDocuments = count;
    }

    /// <summary>Documents the split covers.</summary>
    public int Documents => _isValidation.Length;

    /// <summary>Documents held out for validation.</summary>
    public int ValidationDocuments { get; }

    /// <summary>Documents used for training.</summary>
    public int TrainDocuments => Documents - ValidationDocuments;

    /// <summary>Whether the document at position <paramref name="documentIndex"/> in corpus order is held out.</summary>
    public bool IsValidation(int documentIndex) => _isValidation[documentIndex];
}
