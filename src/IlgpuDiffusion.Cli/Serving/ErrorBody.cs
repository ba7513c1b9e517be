namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The body of every error answer: <c>{"error": {...}}</c>, as the OpenAI API writes it.</summary>
/// <param name="Error">What went wrong.</param>
internal sealed record ErrorBody(ErrorDetail Error);

/// <summary>One error: a message for people, its type, the request field at fault and a short code.</summary>
internal sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);
