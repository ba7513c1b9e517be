using IlgpuDiffusion.Serving;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// <c>POST /v1/completions</c>: the completion of a prompt (and a suffix to infill towards), whole or as server-sent events;
/// with <c>stream_states</c> the stream carries each denoising state, each chunk's text the whole current state.
/// </summary>
internal sealed class CompletionEndpoint(TextGenerationEngine engine, ServerOptions options)
{
    /// <summary>Answers one request; a disconnect cancels it (<see cref="HttpContext.RequestAborted"/>).</summary>
    public async Task HandleAsync(HttpContext context)
    {
        CancellationToken cancellationToken = context.RequestAborted;
        CompletionBody body = await RequestBodies.ReadAsync<CompletionBody>(context.Request, cancellationToken);
        RequestRules.RequireModel(body, engine.ModelName);
        TextRequest request = RequestRules.ToRequest(body, options, RequestRules.Prompt(body.Prompt), body.Suffix, body.MaxTokens,
            "max_tokens");
        string id = $"cmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!body.Stream)
        {
            TextCompletion completion = await engine.CompleteAsync(request, cancellationToken);
            var choices = completion.Texts
                .Select((text, index) => new CompletionChoice(index, text, null, Finishing.Reason(completion, index))).ToList();
            await context.Response.WriteAsJsonAsync(new CompletionAnswer(id, "text_completion", created, engine.ModelName, choices,
                Finishing.Usage(completion)), ServingJson.Options, cancellationToken);
            return;
        }
        var events = new ServerSentEvents(context.Response);
        await foreach (TextUpdate update in engine.StreamAsync(request, cancellationToken))
        {
            if (!update.Final && !body.StreamStates) continue;
            TextCompletion? finished = update.Final ? Finishing.Of(update) : null;
            var choices = update.Texts.Select((text, index) =>
                new CompletionChoice(index, text, null, finished is null ? null : Finishing.Reason(finished, index))).ToList();
            await events.WriteAsync(new CompletionAnswer(id, "text_completion", created, engine.ModelName, choices, null),
                cancellationToken);
            if (finished is not null && body.StreamOptions?.IncludeUsage == true)
                await events.WriteAsync(new CompletionAnswer(id, "text_completion", created, engine.ModelName, [],
                    Finishing.Usage(finished)), cancellationToken);
        }
        await events.CompleteAsync(cancellationToken);
    }
}
