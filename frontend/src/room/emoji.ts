// A small, fixed emoji palette for the chat (no picker library: it would be most of the bundle).
export const EMOJI = [
  "😀", "😂", "🤣", "😊", "😍", "🥰", "😎", "🤔", "😮", "😱", "😭", "😡",
  "👍", "👎", "👏", "🙌", "🙏", "💪", "👀", "🔥", "✨", "🎉", "❤️", "💔",
  "🍿", "🎬", "🎮", "🎵", "⚽", "🏆", "☕", "🍕", "🌙", "⭐", "✅", "❌",
];
