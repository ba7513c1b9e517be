namespace IlgpuDiffusion.Data;

/// <summary>How far a corpus preparation has tokenized; reported after every batch of documents.</summary>
/// <param name="Source">The corpus inputs, described for a label (the first file, and how many more).</param>
/// <param name="Documents">Documents tokenized so far.</param>
/// <param name="TotalDocuments">Documents in the corpus.</param>
/// <param name="Tokens">Tokens produced so far (EOS included).</param>
/// <param name="Elapsed">Time spent tokenizing so far.</param>
public readonly record struct PreparationProgress(string Source, long Documents, long TotalDocuments, long Tokens, TimeSpan Elapsed);
