using IlgpuDiffusion.Data;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Serving;

/// <summary>
/// Runs batches of a <see cref="GptLanguageModel"/>: requests of one prompt length decode together in one
/// <see cref="GptDecoder"/> run, each sequence until its end-of-text or the window.
/// </summary>
internal sealed class GptBackend(GptLanguageModel model) : BatchBackend
{
    /// <inheritdoc/>
    public override int MaxLength => model.Config.Length;

    /// <inheritdoc/>
    public override bool IsDiffusion => false;

    /// <inheritdoc/>
    public override PreparedRequest Prepare(TextRequest request, TextEngineOptions options)
    {
        ValidateCommon(request, options);
        if (!string.IsNullOrEmpty(request.Suffix))
            throw new ArgumentException("Infilling (a suffix) needs a diffusion model; this engine serves an autoregressive (GPT) model.");
        if (request.Steps is not null)
            throw new ArgumentException("Steps apply to diffusion models only; an autoregressive (GPT) model draws one token per step.");
        int[] prompt = [model.Tokenizer.Bos, .. model.Tokenizer.Encode(request.Prompt)];
        int window = Window(request, prompt.Length);
        return new PreparedRequest
        {
            Request = request,
            Key = new BatchKey(window, Steps: 0, request.Temperature, request.TopP, prompt.Length),
            PrefixTokens = prompt.Length,
            SuffixTokens = 0,
            GptPrompt = prompt,
        };
    }

    /// <inheritdoc/>
    public override async Task<int> RunAsync(IReadOnlyList<PendingRequest> batch, ulong seed, CancellationToken cancellationToken)
    {
        BatchKey key = batch[0].Prepared.Key;
        int[][] prompts = batch.Count == 1
            ? [batch[0].Prepared.GptPrompt]
            : batch.SelectMany(p => Enumerable.Repeat(p.Prepared.GptPrompt, p.Prepared.Samples)).ToArray();
        using var decoder = new GptDecoder(model.Model, batch.Sum(p => p.Prepared.Samples), key.Window, key.PromptLength,
            new GptSamplingOptions
            {
                Temperature = key.Temperature,
                TopP = key.TopP,
                Seed = seed,
                EndOfText = model.Tokenizer.Eos,
            });
        int passes = 1; // the prefill
        await foreach (GptGenerationProgress progress in decoder.StreamAsync(prompts, cancellationToken).ConfigureAwait(false))
        {
            if (!progress.IsFinal)
            {
                passes++;
                if (batch.All(p => p.IsFinished)) break;
            }
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
    private void Deliver(PendingRequest pending, GptGenerationProgress progress, int firstRow)
    {
        PreparedRequest prepared = pending.Prepared;
        Tokenizer tokenizer = model.Tokenizer;
        var texts = new string[prepared.Samples];
        var finishReasons = new string[prepared.Samples];
        int completionTokens = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            int row = firstRow + i, length = progress.Length(row);
            ReadOnlySpan<int> ids = progress.Sequence(row)[progress.PromptLength..length];
            completionTokens += ids.Length;
            finishReasons[i] = progress.IsFinished(row) ? "stop" : "length";
            if (ids.Length > 0 && ids[^1] == tokenizer.Eos) ids = ids[..^1];
            texts[i] = tokenizer.Decode(ids);
        }
        var update = new TextUpdate(progress.Position - progress.PromptLength, progress.Capacity - progress.PromptLength, texts,
            progress.IsFinal);
        if (!progress.IsFinal)
        {
            pending.Publish(update);
            return;
        }
        string finishReason = finishReasons.All(reason => reason == "stop") ? "stop" : "length";
        var completion = new TextCompletion(texts, prepared.PrefixTokens, completionTokens, finishReason) { FinishReasons = finishReasons };
        pending.Complete(completion, update);
    }
}
