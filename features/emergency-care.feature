Feature: Emergency care: break glass with a justification, reviewed afterwards
  A clinician treating someone whose life or health is at immediate risk may open records they
  would not normally see, if they record why. Every break-glass access is reviewed afterwards.
  Where the person cannot consent, the basis is their vital interests.

  Scenario: Scenario 13: A consultant breaks the glass for an unconscious patient's medicines
    Given a consultant at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Castle Street Surgery for the medication list for emergency care
    And they give the justification "Unconscious in A&E; needs current medicines before surgery"
    Then sharing is permitted
    And the legal basis includes Article 9(2)(c)
    And the legal basis includes Article 6(1)(d)
    And the legal basis does not include implied consent
    And the obligations include a retrospective review
    And they must record their justification
    And the deciding rule is ntg-emergency/break-glass-vital-interests

  Scenario: Scenario 14: Break glass without a justification is refused
    Given a consultant at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Castle Street Surgery for the medication list for emergency care
    And they give no justification
    Then sharing is not permitted
    And the reason mentions "Break glass needs a justification"
    And it would be permitted if a justification is given
    And the deciding rule is ntg-emergency/justification-required

  Scenario: A conscious patient's emergency treatment is direct care
    Given a GP at Riverside Medical Practice
    When they ask Northgate Hospitals for the discharge summary for emergency care
    And they give the justification "Chest pain on a home visit; needs last week's discharge summary"
    Then sharing is permitted
    And the legal basis includes Article 9(2)(h)
    And the legal basis includes implied consent
    And they must inform the subject
    And the obligations include a retrospective review
    And the deciding rule is ntg-emergency/break-glass-emergency-treatment

  Scenario: A person with capacity may refuse, even in an emergency
    Given a ward nurse at Northgate Hospitals
    And the person has capacity for this decision
    And the person has objected
    When they ask Riverside Medical Practice for the GP summary for emergency care
    And they give the justification "Collapsed on the ward"
    Then sharing is not permitted
    And the reason mentions "may refuse"
    And the deciding rule is ntg-emergency/capable-person-objected

  Scenario: An earlier objection does not stop life-saving access for a person who lacks capacity
    Given a consultant at Northgate Hospitals
    And the person lacks capacity for this decision
    And the person has objected
    When they ask Northgate Mental Health for the mental health record for emergency care
    And they give the justification "Overdose; unconscious; need current psychiatric medicines"
    Then sharing is permitted
    And the reason mentions "wishes the person expressed before they lost capacity"
    And the deciding rule is ntg-emergency/break-glass-vital-interests

  Scenario: Break glass is for clinicians
    Given a home care worker at Northgate City Council
    When they ask Riverside Medical Practice for the GP summary for emergency care
    And they give the justification "Found on the floor at home"
    Then sharing is not permitted
    And no agreement covers it

  Scenario Outline: Emergency access by clinicians who are not in the care team (<role>, <record>)
    Given a <role> at <organisation>
    And the person lacks capacity for this decision
    When they ask <holder> for the <record> for emergency care
    And they give the justification "Life-threatening emergency; no other source"
    Then sharing is permitted
    And the obligations include a retrospective review
    And the legal basis includes Article 9(2)(c)

    Examples:
      | role                | organisation               | holder                     | record              |
      | ward nurse          | Northgate Hospitals        | Riverside Medical Practice | test results        |
      | district nurse      | Northgate Community Health | Northgate Hospitals        | discharge summary   |
      | GP                  | Castle Street Surgery      | Northgate City Council     | care plan           |
      | mental health nurse | Northgate Mental Health    | Castle Street Surgery      | GP summary          |
      | hospital pharmacist | Northgate Hospitals        | Castle Street Surgery      | medication list     |
      | community matron    | Northgate Community Health | Northgate Hospitals        | capacity assessment |
