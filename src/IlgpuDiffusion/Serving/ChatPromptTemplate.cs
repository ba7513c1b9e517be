using Microsoft.Extensions.AI;

namespace IlgpuDiffusion.Serving;

/// <summary>
/// The plain chat template of the served models, which are base models without a chat format of their own: each message
/// as <c>Role: content</c> (the role capitalized: <c>System</c>, <c>User</c>, <c>Assistant</c>, …), messages separated by a
/// blank line, and a final <c>Assistant:</c> that the model continues, e.g.
/// <c>"System: Be brief.\n\nUser: Hi\n\nAssistant:"</c>.
/// </summary>
public static class ChatPromptTemplate
{
    /// <summary>The text the model continues for <paramref name="messages"/>.</summary>
    public static string Render(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Render(messages.Select(message => (message.Role.Value, message.Text)));
    }

    /// <summary>The text the model continues for <paramref name="messages"/>, given as (role, content) pairs.</summary>
    public static string Render(IEnumerable<(string Role, string Content)> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = messages.Select(message => $"{RoleName(message.Role)}: {message.Content}").Append("Assistant:");
        return string.Join("\n\n", turns);
    }

    private static string RoleName(string role) =>
        string.IsNullOrEmpty(role) ? "User" : char.ToUpperInvariant(role[0]) + role[1..].ToLowerInvariant();
}
