using IlgpuDiffusion.Data;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Serving;

/// <summary>
/// Runs batches of a <see cref="DiffusionLanguageModel"/>: the requests' prompts and suffixes become per-sequence fixed
/// tokens of one <see cref="DiffusionSampler"/> run.
/// </summary>
internal sealed class DiffusionBackend(DiffusionLanguageModel model) : BatchBackend
{
    /// <inheritdoc/>
    public override int MaxLength => model.Config.Length;

    /// <inheritdoc/>
    public override bool IsDiffusion => true;

    /// <inheritdoc/>
    public override PreparedRequest Prepare(TextRequest request, TextEngineOptions options)
    {
        ValidateCommon(request, options);
        Tokenizer tokenizer = model.Tokenizer;
        int[] start = SamplingPrompt.FramedStart(tokenizer, request.Prompt);
        int[] end = SamplingPrompt.FramedEnd(tokenizer, request.Suffix);
        int window = Window(request, start.Length + end.Length);
        return new PreparedRequest
        {
            Request = request,
            Key = new BatchKey(window, request.Steps ?? model.SamplingSteps, request.Temperature, request.TopP, PromptLength: 0),
            PrefixTokens = start.Length,
            SuffixTokens = end.Length,
            DiffusionPrompt = SamplingPrompt.Framed(start, end, window),
        };
    }

    /// <inheritdoc/>
    public override async Task<int> RunAsync(IReadOnlyList<PendingRequest> batch, ulong seed, CancellationToken cancellationToken)
    {
        BatchKey key = batch[0].Prepared.Key;
        SamplingPrompt? prompt = batch.Count == 1
            ? batch[0].Prepared.DiffusionPrompt
            : SamplingPrompt.Concat(batch.Select(p => (p.Prepared.DiffusionPrompt, p.Prepared.Samples)).ToArray());
        SamplerOptions options = model.SamplerOptionsFor(new GenerationOptions
        {
            Samples = batch.Sum(p => p.Prepared.Samples),
            Seed = seed,
            Temperature = key.Temperature,
            TopP = key.TopP,
            Steps = key.Steps,
        });
        using var sampler = new DiffusionSampler(model.Model, options, key.Window);
        int passes = 0;
        await foreach (SamplingProgress progress in sampler.StreamAsync(prompt, cancellationToken).ConfigureAwait(false))
        {
            passes = progress.ForwardPasses;
            if (!progress.IsFinal && batch.All(p => p.IsFinished)) break;
            int row = 0;
            foreach (PendingRequest pending in batch)
            {
                if (progress.IsFinal || pending.Streams) Deliver(pending, progress, row);
                row += pending.Prepared.Samples;
            }
        }
        return passes;
    }

    /// <summary>Publishes (or, at the end, completes) <paramref name="pending"/>'s texts from its rows.</summary>
    private void Deliver(PendingRequest pending, SamplingProgress progress, int firstRow)
    {
        PreparedRequest prepared = pending.Prepared;
        var texts = new string[prepared.Samples];
        for (int i = 0; i < texts.Length; i++)
            texts[i] = CompletionText(prepared, progress.Ids.Slice((firstRow + i) * progress.Length, progress.Length));
        var update = new TextUpdate(progress.Step, progress.Steps, texts, progress.IsFinal);
        if (!progress.IsFinal)
        {
            pending.Publish(update);
            return;
        }
        int completionTokens = prepared.CompletionPositions * prepared.Samples;
        var completion = new TextCompletion(texts, prepared.PrefixTokens + prepared.SuffixTokens, completionTokens, "length")
        {
            FinishReasons = Enumerable.Repeat("length", texts.Length).ToArray(),
        };
        pending.Complete(completion, update);
    }

    /// <summary>
    /// The generated positions of one sequence as text, framed as the language model frames its texts: with no prompt a
    /// leading BOS is dropped, with no suffix a trailing EOS.
    /// </summary>
    private string CompletionText(PreparedRequest prepared, ReadOnlySpan<int> sequence)
    {
        ReadOnlySpan<int> ids = FramedText.WithoutFrame(sequence.Slice(prepared.PrefixTokens, prepared.CompletionPositions),
            model.Tokenizer, leading: prepared.PrefixTokens == 0, trailing: prepared.SuffixTokens == 0);
        return model.Tokenizer.Decode(ids);
    }
}
