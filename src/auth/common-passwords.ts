/**
 * About 220 of the most common passwords (lower-case), from public breach-frequency lists, plus
 * a few names of this product. Entries shorter than the minimum length are rejected by that rule
 * anyway; they are kept so the list stays useful if the minimum changes.
 */
export const commonPasswords: ReadonlySet<string> = new Set([
  "123456", "password", "12345678", "qwerty", "123456789", "12345", "1234", "111111", "1234567", "dragon",
  "123123", "baseball", "abc123", "football", "monkey", "letmein", "696969", "shadow", "master", "666666",
  "qwertyuiop", "123321", "mustang", "1234567890", "michael", "654321", "superman", "1qaz2wsx", "7777777",
  "121212", "000000", "qazwsx", "123qwe", "killer", "trustno1", "jordan", "jennifer", "zxcvbnm", "asdfgh",
  "hunter", "buster", "soccer", "harley", "batman", "andrew", "tigger", "sunshine", "iloveyou", "2000",
  "charlie", "robert", "thomas", "hockey", "ranger", "daniel", "starwars", "klaster", "112233", "george",
  "computer", "michelle", "jessica", "pepper", "1111", "zxcvbn", "555555", "11111111", "131313", "freedom",
  "777777", "pass", "maggie", "159753", "aaaaaa", "ginger", "princess", "joshua", "cheese", "amanda",
  "summer", "love", "ashley", "nicole", "chelsea", "biteme", "matthew", "access", "yankees", "987654321",
  "dallas", "austin", "thunder", "taylor", "matrix", "minecraft", "password1", "password123", "password12",
  "passw0rd", "p@ssw0rd", "p@ssword", "welcome", "welcome1", "welcome123", "admin", "admin123",
  "administrator", "root", "toor", "changeme", "letmein1", "qwerty123", "qwerty1", "qwertyui", "1q2w3e4r",
  "1q2w3e4r5t", "1q2w3e", "12qwaszx", "q1w2e3r4", "q1w2e3r4t5", "zaq12wsx", "zaq1zaq1", "asdfghjkl",
  "asdfasdf", "qwer1234", "abcd1234", "abcdefg", "abcdefgh", "123abc", "iloveyou1", "sunshine1", "princess1",
  "football1", "baseball1", "superman1", "monkey123", "dragon123", "master123", "shadow123", "michael1",
  "88888888", "99999999", "00000000", "12341234", "11223344", "123456a", "123456abc", "a123456", "a1b2c3d4",
  "aa123456", "1234qwer", "123654789", "147258369", "123698745", "987654321a", "0987654321", "1234554321",
  "1111111111", "12345678910", "123123123", "qweasdzxc", "qazwsxedc", "1qazxsw2", "password!", "password1!",
  "iloveyou2", "trustno1!", "football123", "baseball123", "liverpool", "chocolate", "butterfly", "whatever",
  "starwars1", "pokemon", "naruto", "internet", "samsung", "google", "apple123", "secret", "secret123",
  "default", "guest", "test123", "testing123", "hello123", "helloworld", "loveme", "lovely", "flower",
  "flowers", "babygirl", "jesus1", "blessed", "blink182", "letmein123", "login", "passpass", "pass1234",
  "mypassword", "yourpassword", "nopassword", "newpassword", "oldpassword", "temp1234", "temppass",
  "qwertyuiop1", "1qaz2wsx3edc", "zxcvbnm1", "heliosdb", "supabase", "postgres", "postgres123", "database",
  "database123", "security", "security1", "computer1", "internet1",
]);
